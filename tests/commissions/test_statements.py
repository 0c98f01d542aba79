"""A month's commissions (thesis 5.2.2; DOMAIN.md 6 and 7.4): per asesor, per agency's
jefe and per external agency; every figure the sum of lines naming their record;
recomputing an open month replaces it; a closed month never changes, and a late
payment counts in the month that took it in."""

from datetime import date
from decimal import Decimal

import pytest

from commissions.models import CommissionLine, CommissionMonth, CommissionStatement
from commissions.statements.selectors import statement_lines
from commissions.statements.services import commissions_close, commissions_compute
from portfolio.exceptions import InvalidInput, PermissionDenied
from tests.commissions.conftest import rows
from tests.support import api_as, person

pytestmark = pytest.mark.django_db(transaction=True)

NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)
AT_C1 = {"lat": -11.94012, "lon": -77.06102}  # at C1's door: a GPS-verified visit
FAR = {"lat": -16.45, "lon": -71.60}  # kilometres from C2's home
PAID_UP = {"overdue_amount": "0", "days_past_due": "0", "overdue_installments": "0"}
RESCHEDULED = {"total_installments": "18"}  # C2's credit from day 3 on


@pytest.fixture
def november(money):
    """Day 2 (3 Nov): Rosa visits C1 at its door and C1 pays its overdue installment
    (cured by an effective action); Juan visits C2 off radius and C2 pays part; C3,
    the external agency's (alternate), pays. Day 3: C2's credit is rescheduled (80)."""
    r = money
    r.result(2, "C1", "10", hour=10, promise_in=1, officer="AS001", channel="visit", **AT_C1)
    r.payment(2, "CR1", hour=11, installments=1, amount="150.00")
    r.result(2, "C2", "10", hour=10, promise_in=1, officer="AS002", channel="visit", **FAR)
    r.payment(2, "CR2", hour=11, installments=0, amount="100.00")
    r.payment(2, "CR3", hour=12, installments=0, amount="200.00")
    r.snapshot(2, rows(2))
    r.cycle(2)
    assert r.case("C1").status == "closed"
    r.snapshot(3, rows(3, C1=PAID_UP, C2=RESCHEDULED))
    r.cycle(3)
    from commissions.statements.services import office_targets_load

    office_targets_load(text="agency_code,month,amount\nAG01,2026-11,120.00\nAG02,2026-11,500\n")
    return r


def statement(month, **key) -> CommissionStatement:
    return CommissionStatement.objects.get(month__month=month, **key)


def lines_of(s: CommissionStatement) -> list[tuple]:
    return sorted(
        (ln.kind, ln.client_code, ln.reference, ln.base, ln.value) for ln in statement_lines(s)
    )


def test_the_months_statements_follow_the_scheme_line_by_line(november):
    commissions_compute(month=NOVEMBER)
    cure_ref = "70:" + str(november.case("C1").history.get(cause="70").pk)
    refi_ref = "80:" + str(november.case("C2").history.get(cause="80").pk)
    rosa = statement(NOVEMBER, kind="officer", officer__code="AS001")
    # Scheme (default strategy): S/ 15 per cure, 1 % of collection, S/ 20 per refinanced
    # client, x1.2 when the office target is reached, 8 % for external agencies.
    assert lines_of(rosa) == [
        ("collection", "C1", "PAY-CR1-2-11", Decimal("150.00"), Decimal("1.50")),
        ("cure", "C1", cure_ref, None, Decimal("15.00")),
        # AG01 collected S/ 150.00 against its S/ 120.00 target: 0.2 x (15.00 + 1.50).
        ("target", "", "target:AG01:2026-11", None, Decimal("3.30")),
    ]
    assert (rosa.clients_cured, rosa.amount_collected, rosa.clients_refinanced) == (
        1, Decimal("150.00"), 0,
    )  # fmt: skip
    assert rosa.office_target_reached and rosa.amount == Decimal("19.80")
    juan = statement(NOVEMBER, kind="officer", officer__code="AS002")
    # Juan's visit was off radius: C2's payment counts, but there was no cure.
    assert lines_of(juan) == [
        ("collection", "C2", "PAY-CR2-2-11", Decimal("100.00"), Decimal("1.00")),
        ("refinancing", "C2", refi_ref, None, Decimal("20.00")),
    ]
    assert (juan.clients_refinanced, juan.office_target_reached, juan.target_amount) == (
        1, False, Decimal("500.00"),
    )  # fmt: skip
    assert juan.amount == Decimal("21.00")
    # The jefe's statement: the agency's figures, line by line.
    ag01 = statement(NOVEMBER, kind="agency", agency__code="AG01")
    assert lines_of(ag01) == lines_of(rosa) and ag01.amount == Decimal("19.80")
    # The external agency: 8 % of what it recovered on its cases (C3, alternate).
    ex01 = statement(NOVEMBER, kind="external", external_agency__code="EX01")
    assert lines_of(ex01) == [
        ("collection", "C3", "PAY-CR3-2-12", Decimal("200.00"), Decimal("16.00"))
    ]
    assert (ex01.amount_collected, ex01.amount) == (Decimal("200.00"), Decimal("16.00"))
    # Rosa's colleague AS004 earned nothing, and has a statement saying so.
    assert statement(NOVEMBER, kind="officer", officer__code="AS004").amount == 0


def test_a_commission_recomputed_from_its_lines_equals_its_total(november):
    commissions_compute(month=NOVEMBER)
    statements = CommissionStatement.objects.filter(month__month=NOVEMBER)
    assert statements.count() == 6  # AS001, AS002, AS004; AG01, AG02; EX01
    for s in statements:
        lines = list(statement_lines(s))
        assert s.amount == sum((ln.value for ln in lines), Decimal("0")), s
        assert s.amount_collected == sum(
            (ln.base for ln in lines if ln.kind == "collection"), Decimal("0")
        )
        assert s.clients_cured == sum(1 for ln in lines if ln.kind == "cure")
        assert s.clients_refinanced == sum(1 for ln in lines if ln.kind == "refinancing")


def test_recomputing_an_open_month_replaces_it(november):
    from commissions.tasks import compute_commissions_task

    # The morning task computes the last finished night's month (4 November's).
    assert compute_commissions_task() == CommissionLine.objects.count() > 0
    first = commissions_compute(month=NOVEMBER)
    before = sorted(CommissionLine.objects.values_list("kind", "reference", "value", "date"))
    again = commissions_compute(month=NOVEMBER)
    assert again.pk == first.pk and again.lines == first.lines == len(before)
    after = sorted(CommissionLine.objects.values_list("kind", "reference", "value", "date"))
    assert after == before


def test_a_closed_month_never_changes_and_a_late_payment_counts_in_the_next(november):
    r = november
    commissions_compute(month=NOVEMBER)
    with pytest.raises(InvalidInput, match="after its last day"):
        commissions_close(month=NOVEMBER, by=person("gerencia"))  # no December cycle yet
    r.snapshot(30, rows(30, C1=PAID_UP, C2=RESCHEDULED))
    r.cycle(30)  # 1 December
    with pytest.raises(PermissionDenied):
        commissions_close(month=NOVEMBER, by=person("jcastro"))
    closed = commissions_close(month=NOVEMBER, by=person("gerencia"))
    assert closed.status == CommissionMonth.Status.CLOSED and closed.closed_by == person("gerencia")
    frozen = sorted(CommissionLine.objects.filter(month=closed).values_list("reference", "value"))
    juan_before = statement(NOVEMBER, kind="officer", officer__code="AS002").amount

    # Core banking sends, late, a payment C2 made on 11 November; the cycle of
    # 2 December takes it in.
    late = r.payment(10, "CR2", hour=9, installments=0, amount="50.00")
    r.snapshot(31, rows(31, C1=PAID_UP, C2=RESCHEDULED))
    r.cycle(31)
    late.refresh_from_db()
    assert late.applied_on == date(2026, 12, 2)

    with pytest.raises(InvalidInput) as refused:
        commissions_compute(month=NOVEMBER)
    assert refused.value.field == "month"
    assert sorted(
        CommissionLine.objects.filter(month=closed).values_list("reference", "value")
    ) == (frozen)
    assert statement(NOVEMBER, kind="officer", officer__code="AS002").amount == juan_before
    commissions_compute(month=DECEMBER)
    juan = statement(DECEMBER, kind="officer", officer__code="AS002")
    assert lines_of(juan) == [
        ("collection", "C2", late.reference, Decimal("50.00"), Decimal("0.50"))
    ]
    assert statement_lines(juan).get().date == date(2026, 12, 2)  # booked when it was taken in
    # A payment of a month still open stays in that month, however late it is taken in.
    CommissionMonth.objects.filter(pk=closed.pk).update(status="open")
    commissions_compute(month=DECEMBER)
    assert not statement_lines(statement(DECEMBER, kind="officer", officer__code="AS002")).exists()


def test_only_the_gerente_computes(november):
    with pytest.raises(PermissionDenied):
        commissions_compute(month=NOVEMBER, by=person("jcastro"))


def test_the_api_gives_a_statement_and_its_lines_exactly_as_the_contract(november):
    commissions_compute(month=NOVEMBER)
    rosa = api_as("rquispe", ["commissions:read"])
    answer = rosa.get("/api/v1/commissions/?month=2026-11&officer=AS001")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert {"clients_cured", "amount_collected", "clients_refinanced", "office_target_reached",
            "amount", "lines"} <= set(body)  # fmt: skip
    assert (body["clients_cured"], body["amount_collected"], body["amount"]) == (
        1, "150.00", "19.80",
    )  # fmt: skip
    assert body["office_target_reached"] is True
    assert {tuple(sorted(line)) for line in body["lines"]} == {
        ("base", "client_code", "credit_code", "date", "kind", "reference", "value")
    }
    assert sum(Decimal(line["value"]) for line in body["lines"]) == Decimal(body["amount"])
    # Naming none: one's own; the month must be YYYY-MM; not computed: 404.
    assert rosa.get("/api/v1/commissions/?month=2026-11").json()["amount"] == "19.80"
    bad = rosa.get("/api/v1/commissions/?month=11-2026")
    assert bad.status_code == 400 and bad.json()["field"] == "month"
    assert rosa.get("/api/v1/commissions/?month=2026-10").status_code == 404
    jefe = api_as("jcastro", ["commissions:read"])
    assert jefe.get("/api/v1/commissions/?month=2026-11&agency=AG01").json()["amount"] == "19.80"
    external = api_as("recupera", ["commissions:read"])
    ex = external.get("/api/v1/commissions/?month=2026-11&external_agency=EX01").json()
    assert (ex["amount"], ex["amount_collected"]) == ("16.00", "200.00")
    # The scope: a token without it, and a reader outside it.
    assert (
        api_as("rquispe", ["cases:read"]).get("/api/v1/commissions/?month=2026-11").status_code
        == 403
    )
    assert external.get("/api/v1/commissions/?month=2026-11&officer=AS001").status_code == 404


def test_the_month_is_a_fixed_number_of_statements(november):
    from collections_field.engine.sql import counting_statements

    commissions_compute(month=NOVEMBER)  # the month's row exists from now on
    with counting_statements() as few:
        few_lines = commissions_compute(month=NOVEMBER).lines
    for hour in range(8, 18):  # twenty more payments, taken in by the cycle of day 4
        november.payment(4, "CR2", hour=hour, installments=0, amount="10.00")
        november.payment(4, "CR3", hour=hour, installments=0, amount="10.00")
    november.snapshot(4, rows(4, C1=PAID_UP, C2=RESCHEDULED))
    november.cycle(4)
    with counting_statements() as many:
        record = commissions_compute(month=NOVEMBER)
    assert record.lines == few_lines + 2 * 10 and many.count == few.count
