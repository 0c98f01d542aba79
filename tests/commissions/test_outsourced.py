"""An outsourced agency's statement (DOMAIN.md 6): a share of what it recovered on its
assigned cases, alternate or simultaneous, exportable for invoicing."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from collections_field.models import Case
from commissions.models import CommissionStatement
from commissions.statements.selectors import statement_lines
from commissions.statements.services import commissions_compute
from tests.collections_field.test_external_agencies import (  # noqa: F401 (fixture)
    replay,
    rule,
    snapshot_rows,
)
from tests.support import person

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shared_case_pays_the_asesor_and_the_agency(replay):  # noqa: F811
    rule("simultaneous")
    replay.snapshot(1, snapshot_rows())
    replay.cycle(1)
    assert set(Case.objects.values_list("officer__code", "external_agency__code")) == {
        ("AS001", "EX01")
    }
    replay.payment(2, "CRK1", amount="250.00", installments=0)
    replay.snapshot(2, snapshot_rows(dpd=11))
    replay.cycle(2)
    commissions_compute(month=date(2026, 11, 1))
    rosa = CommissionStatement.objects.get(kind="officer", officer__code="AS001")
    agency = CommissionStatement.objects.get(kind="external", external_agency__code="EX01")
    # Both worked it: 1 % for the asesor, 8 % for the agency, of the same payment.
    assert [(ln.reference, ln.base, ln.value) for ln in statement_lines(rosa)] == [
        ("PAY-CRK1-2-11", Decimal("250.00"), Decimal("2.50"))
    ]
    assert [(ln.reference, ln.base, ln.value) for ln in statement_lines(agency)] == [
        ("PAY-CRK1-2-11", Decimal("250.00"), Decimal("20.00"))
    ]
    # The agency's user downloads its statement for the invoice; nobody else's.
    browser = Client()
    browser.force_login(person("crapido"))
    pdf = browser.get("/commissions/?month=2026-11&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    sheet = browser.get("/commissions/?month=2026-11&external_agency=EX01&format=csv")
    assert "PAY-CRK1-2-11" in sheet.content.decode("utf-8-sig")
    assert browser.get("/commissions/?month=2026-11&officer=AS001").status_code == 404
