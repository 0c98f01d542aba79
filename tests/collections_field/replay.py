"""Drive the engine from outside, day by day, as core banking and the field would."""

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from collections_field.engine.sql import LIMA
from collections_field.models import Case
from collections_field.services import cycle_run, result_register
from portfolio.services import payment_register, snapshot_import
from tests.support import row, write_snapshot


class Replay:
    def __init__(self, tmp_path: Path, first_day: date = date(2026, 11, 2)):
        self.tmp_path = tmp_path
        self.first_day = first_day

    def day(self, n: int) -> date:
        return self.first_day + timedelta(days=n - 1)

    def at(self, n: int, hour: int = 10, minute: int = 0) -> datetime:
        return datetime.combine(self.day(n), time(hour, minute), tzinfo=LIMA)

    def snapshot(self, n: int, rows: list[dict]) -> None:
        path = write_snapshot(self.tmp_path / f"day{n}.csv", rows)
        snapshot_import(source=path, business_date=self.day(n))

    def result(self, n, client, code, *, hour=10, promise_in=None, officer="AS001", **extra):
        promise = self.day(n) + timedelta(days=promise_in) if promise_in is not None else None
        return result_register(
            uuid=uuid.uuid4(),
            client_code=client,
            result_code=code,
            occurred_at=self.at(n, hour),
            officer_code=officer,
            promise_date=promise,
            promise_amount=Decimal("100.00") if promise else None,
            **extra,
        ).obj

    def payment(self, n, credit, *, hour=11, installments=1, amount="150.00"):
        return payment_register(
            reference=f"PAY-{credit}-{n}-{hour}",
            credit_code=credit,
            amount=Decimal(amount),
            paid_at=self.at(n, hour),
            installments=installments,
        ).payment

    def cycle(self, n: int):
        return cycle_run(business_date=self.day(n))

    def case(self, client: str) -> Case:
        return Case.objects.get(client__code=client)

    def case_exists(self, client: str) -> bool:
        return Case.objects.filter(client__code=client).exists()

    def moves(self, client: str) -> list[tuple[str, str, str]]:
        return [
            (h.from_code, h.to_code, h.cause)
            for h in self.case(client)
            .history.exclude(cause_kind="assign")
            .order_by("at", "seq", "id")
        ]


def overdue_row(client: str, credit: str, dpd: int, installments: int = 1, **extra) -> dict:
    return row(
        client_code=client,
        credit_code=credit,
        days_past_due=str(dpd),
        overdue_installments=str(installments),
        overdue_amount="0" if dpd == 0 else "150.00",
        **extra,
    )
