"""The few places where PostgreSQL and SQLite spell a statement differently.

Every engine step is a fixed list of statements over all cases; these helpers
keep one text of each statement for both databases.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from portfolio.db import analyze_if_grown, ensure_sqlite_functions, tune_bulk_session

__all__ = [
    "analyze_if_grown",
    "ensure_sqlite_functions",
    "tune_bulk_session",
]  # shared with the import

LIMA = ZoneInfo("America/Lima")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def start_of(day: date) -> datetime:
    """00:00 of a business date in Lima, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=LIMA)


def end_of(day: date) -> datetime:
    return start_of(day + timedelta(days=1))


def ts(moment: datetime):
    """A datetime as a raw statement parameter, in the form Django stores it
    (SQLite keeps UTC text, which must compare as text with the stored values)."""
    return connection.ops.adapt_datetimefield_value(moment)


def lima_midnight_after(date_sql: str) -> str:
    """SQL for 00:00 Lima of the day after a date column (Lima is UTC-5, no DST since 1994)."""
    if is_postgres():
        return f"(({date_sql} + 1)::timestamp AT TIME ZONE 'America/Lima')"
    return f"datetime({date_sql}, '+1 day', '+5 hours')"


def lima_start_of(date_sql: str) -> str:
    """SQL for 00:00 Lima of a date column, as a stored timestamp compares."""
    if is_postgres():
        return f"({date_sql}::timestamp AT TIME ZONE 'America/Lima')"
    return f"datetime({date_sql}, '+5 hours')"


def date_plus(date_sql: str, days_sql: str) -> str:
    if is_postgres():
        return f"({date_sql}::date + ({days_sql})::int)"
    return f"date({date_sql}, '+' || ({days_sql}) || ' days')"


def date_minus(date_sql: str, days_sql: str) -> str:
    if is_postgres():
        return f"({date_sql}::date - ({days_sql})::int)"
    return f"date({date_sql}, '-' || ({days_sql}) || ' days')"


def days_between(later_sql: str, earlier_sql: str) -> str:
    """Whole days from one date to another, as an integer."""
    if is_postgres():
        return f"({later_sql}::date - {earlier_sql})"
    return f"CAST(julianday({later_sql}) - julianday({earlier_sql}) AS integer)"


def greatest(a: str, b: str) -> str:
    return f"greatest({a}, {b})" if is_postgres() else f"max({a}, {b})"


def true() -> str:
    return "true" if is_postgres() else "1"


def false() -> str:
    return "false" if is_postgres() else "0"


def positions_table(cursor, day: date | None) -> str:
    """The table holding a business date's positions. On PostgreSQL the day's own
    partition when it exists: the planner then has its statistics (a partitioned
    parent is never analysed, so its joins and groups are guessed) and the statement
    reads it without pruning. Otherwise the table itself, filtered by date."""
    if day is None or not is_postgres():
        return "portfolio_creditposition"
    name = f"portfolio_creditposition_d{day:%Y%m%d}"
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return name if cursor.fetchone()[0] else "portfolio_creditposition"


TEMP_STATISTICS = 10
# The night's own tables analysed between its steps (their counts for the next joins):
# a sample of 9,000 rows, not 30,000 (0.05 s, not 0.2 s, for the actions or the
# history at 1M credits); autovacuum's analyse later takes the full sample.
NIGHT_STATISTICS = 30


def analyze(cursor, table: str, *, sample: int = NIGHT_STATISTICS) -> None:
    """Fresh planner statistics for a table the night just wrote (PostgreSQL), on a
    sample of 300 x `sample` rows."""
    if is_postgres():
        cursor.execute(
            f"SET LOCAL default_statistics_target = {int(sample)}; ANALYZE {table}; "
            "SET LOCAL default_statistics_target TO DEFAULT"
        )


def create_temp(cursor, name: str, select_sql: str, params: Sequence = ()) -> None:
    """A temporary table for the current transaction (PostgreSQL drops it at commit)."""
    params = params or None  # no parameters: a literal % (modulo) stays as it is
    if is_postgres():
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select_sql}", params)
        # A sample of 3,000 rows, not 30,000: the statements that join these tables
        # need their sizes and rough spreads, and the full sample cost a second a night
        # at 1M credits (0.3 s for the selection's candidates alone).
        analyze(cursor, name, sample=TEMP_STATISTICS)
    else:
        cursor.execute(f"DROP TABLE IF EXISTS temp.{name}")
        cursor.execute(f"CREATE TEMP TABLE {name} AS {select_sql}", params)


def drop_temp(cursor, *names: str) -> None:
    """SQLite keeps temporary tables for the connection's life: drop them after a step."""
    if not is_postgres():
        for name in names:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{name}")


class StatementCounter:
    """Counts the SQL statements a step sends (the bench and a test read it)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting_statements() -> Iterator[StatementCounter]:
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        yield counter
