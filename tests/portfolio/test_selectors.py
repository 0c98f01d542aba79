from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from portfolio.selectors import clients_visible_to, portfolio_summary
from portfolio.services import snapshot_import
from tests.support import row, write_snapshot


@pytest.fixture
def loaded(organisation, tmp_path):
    rows = [
        row(),
        row(credit_code="CR2", client_code="C2", agency_code="AG02", overdue_amount="100.00"),
        row(credit_code="CR3", client_code="C3", days_past_due="0", overdue_amount="0"),
    ]
    snapshot_import(
        source=write_snapshot(tmp_path / "s.csv", rows), business_date=date(2026, 11, 24)
    )


def user(username):
    return get_user_model().objects.get(username=username)


@pytest.mark.django_db(transaction=True)
def test_scope_follows_the_hierarchy(loaded):
    assert set(clients_visible_to(user("gerencia")).values_list("code", flat=True)) == {
        "C1",
        "C2",
        "C3",
    }
    # jefe de agencia AG01 and jefe zonal Z1 (AG01 only) see C1 and C3, not Arequipa's C2.
    assert set(clients_visible_to(user("jcastro")).values_list("code", flat=True)) == {"C1", "C3"}
    assert set(clients_visible_to(user("mflores")).values_list("code", flat=True)) == {"C1", "C3"}
    # An asesor sees only the clients of own cases (none before the first cycle).
    assert not clients_visible_to(user("rquispe")).exists()
    outsider = get_user_model().objects.create(username="nobody")
    assert not clients_visible_to(outsider).exists()


@pytest.mark.django_db(transaction=True)
def test_summary_counts_within_scope(loaded):
    everything = portfolio_summary(user=user("gerencia"))
    assert (everything.clients, everything.credits, everything.delinquent) == (3, 3, 2)
    assert everything.overdue_amount == Decimal("550.00")
    branch = portfolio_summary(user=user("jcastro"))
    assert (branch.clients, branch.delinquent, branch.overdue_amount) == (2, 1, Decimal("450.00"))
