"""Import of the core-banking snapshot (DOMAIN.md 7.1).

PostgreSQL: COPY the file into a temporary text table, validate with one
set-based query that returns the bad lines, cast into a typed temporary table,
merge with a fixed number of statements (insert the new, update only what
changed), and attach the day's positions as a partition built apart.
SQLite: the same contract; rows are parsed and checked in Python and then go
through the same merge statements.

Everything happens in one transaction: a bad row loads nothing.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portfolio.db import analyze_if_grown, ensure_sqlite_functions
from portfolio.exceptions import SnapshotError, SnapshotRowError
from portfolio.models import Agency, Quadrant, SnapshotImport

METRES_PER_DEGREE = 111_320.0

# --- The contract's columns, one spec for both databases -------------------------


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | money | int | smallint | date | lat | lon | currency
    required: bool = False
    max_length: int | None = None
    personal: bool = False  # never echo the value back (Ley 29733)


COLUMNS: tuple[Column, ...] = (
    Column("credit_code", "text", True, 40),
    Column("client_code", "text", True, 40),
    Column("client_name", "text", True, 200, personal=True),
    Column("document_id", "text", True, 20, personal=True),
    Column("product", "text", True, 60),
    Column("currency", "currency", True),
    Column("disbursed_amount", "money", True),
    Column("principal_balance", "money", True),
    Column("overdue_amount", "money", True),
    Column("overdue_installments", "smallint", True),
    Column("total_installments", "smallint", True),
    Column("days_past_due", "int", True),
    Column("agency_code", "text", True, 20),
    Column("next_due_date", "date"),
    Column("origin_officer_code", "text", False, 20),
    Column("phone", "text", False, 30, personal=True),
    Column("email", "text", False, 254, personal=True),
    Column("address", "text", False, 300, personal=True),
    Column("lat", "lat"),
    Column("lon", "lon"),
    Column("quadrant_code", "text", False, 20),
    Column("late_interest", "money"),
    Column("collection_fees", "money"),
    Column("commissions", "money"),
)
COLUMN_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = [c.name for c in COLUMNS if c.required]

PATTERNS = {
    "money": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
    "int": r"^[0-9]{1,9}$",
    "smallint": r"^[0-9]{1,4}$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "lat": r"^-?[0-9]{1,2}(\.[0-9]{1,12})?$",
    "lon": r"^-?[0-9]{1,3}(\.[0-9]{1,12})?$",
}
KIND_MESSAGES = {
    "money": gettext_noop("is not an amount (digits, a decimal point, at most 2 decimals)"),
    "int": gettext_noop("is not a whole number of days"),
    "smallint": gettext_noop("is not a whole number"),
    "date": gettext_noop("is not a date (YYYY-MM-DD)"),
    "lat": gettext_noop("is not a latitude between -90 and 90"),
    "lon": gettext_noop("is not a longitude between -180 and 180"),
    "currency": gettext_noop("is not a currency (PEN or USD)"),
}
CURRENCIES = ("PEN", "USD")

# The columns whose change means rewriting the credit, its client or its address.
HASHED_COLUMNS = (
    "client_code", "client_name", "document_id", "product", "currency", "disbursed_amount",
    "agency_code", "origin_officer_code", "phone", "email", "address", "lat", "lon",
    "quadrant_code",
)  # fmt: skip

# Columns of the typed staging table, in order, shared by both databases.
TYPED_COLUMNS = (
    "line",
    "credit_code",
    "client_code",
    "client_name",
    "document_id",
    "product",
    "currency",
    "disbursed_amount",
    "principal_balance",
    "overdue_amount",
    "overdue_installments",
    "total_installments",
    "days_past_due",
    "agency_id",
    "next_due_date",
    "origin_officer_code",
    "phone",
    "email",
    "address",
    "lat",
    "lon",
    "quadrant_id",
    "late_interest",
    "collection_fees",
    "commissions",
    "row_hash",
)


@dataclass
class SnapshotResult:
    business_date: date
    rows: int = 0
    clients_new: int = 0
    credits_new: int = 0
    credits_left: int = 0
    unchanged: bool = False
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


# --- Entry point -------------------------------------------------------------------


def import_snapshot_file(
    *, source: Path | str | BinaryIO, business_date: date, user=None, file_name: str = ""
) -> SnapshotResult:
    started = time.monotonic()
    stream, owned = _open(source)
    try:
        sha = _sha256(stream)
        previous = SnapshotImport.objects.filter(business_date=business_date).first()
        if previous is not None and previous.sha256 == sha:
            return SnapshotResult(business_date=business_date, rows=previous.rows, unchanged=True)
        later = SnapshotImport.objects.filter(business_date__gt=business_date).first()
        if later is not None:
            raise SnapshotError(
                [
                    SnapshotRowError(
                        0,
                        None,
                        _("a snapshot for a later date (%(date)s) is already loaded")
                        % {"date": later.business_date.isoformat()},
                    )
                ]
            )
        header, warnings = _read_header(stream)
        with transaction.atomic():
            merger = _PostgresStage() if connection.vendor == "postgresql" else _SqliteStage()
            merger.stage(stream, header)
            result = _merge(business_date, merger)
            result.warnings = warnings
            result.seconds = time.monotonic() - started
            SnapshotImport.objects.update_or_create(
                business_date=business_date,
                defaults={
                    "sha256": sha,
                    "file_name": file_name
                    or (str(source) if isinstance(source, (str, Path)) else ""),
                    "rows": result.rows,
                    "credits_new": result.credits_new,
                    "credits_left": result.credits_left,
                    "clients_new": result.clients_new,
                    "seconds": result.seconds,
                    "imported_by": user,
                },
            )
        return result
    finally:
        if owned:
            stream.close()


def _open(source: Path | str | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, Path)):
        return open(source, "rb"), True
    return source, False


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _read_header(stream: BinaryIO) -> tuple[list[str], list[str]]:
    first = stream.readline()
    stream.seek(0)
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError([SnapshotRowError(1, None, _("the file is not UTF-8"))]) from exc
    header = [h.strip().lower() for h in next(csv.reader([text]), [])]
    errors = []
    if not header or header == [""]:
        raise SnapshotError([SnapshotRowError(1, None, _("the file is empty"))])
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        errors.append(
            SnapshotRowError(
                1, None, _("missing required column(s): %(cols)s") % {"cols": ", ".join(missing)}
            )
        )
    seen = set()
    for name in header:
        if name in seen:
            errors.append(SnapshotRowError(1, name, _("the column appears twice")))
        seen.add(name)
        if name and not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            errors.append(SnapshotRowError(1, name, _("is not a valid column name")))
    if errors:
        raise SnapshotError(errors)
    unknown = [name for name in header if name not in COLUMN_BY_NAME]
    warnings = (
        [_("ignored unknown column(s): %(cols)s") % {"cols": ", ".join(unknown)}] if unknown else []
    )
    return header, warnings


# --- PostgreSQL: COPY, validate in SQL, cast -------------------------------------


# PostgreSQL types for a COPY straight into typed columns. Dates stay text so that
# only ISO dates pass (the server would also read 02/11/2026, by its DateStyle).
PG_TYPES = {"money": "numeric", "int": "integer", "smallint": "smallint",
            "lat": "float8", "lon": "float8"}  # fmt: skip


class _PostgresStage:
    """COPY straight into typed columns, then cheap set-based checks. A file the
    typed COPY refuses, or that fails the checks, is staged again as text and pays
    for the line-by-line validation that names every error."""

    def stage(self, stream: BinaryIO, header: list[str]) -> None:
        with connection.cursor() as cursor:
            typed = self._copy(cursor, stream, header, typed=True)
            clean = False
            if typed:
                try:
                    with transaction.atomic():
                        self._cast(cursor, typed=True)
                        clean = self._looks_clean(cursor)
                except (DataError, IntegrityError):
                    clean = False
            if not clean:
                cursor.execute("DROP TABLE IF EXISTS snapshot_typed")
                stream.seek(0)
                self._copy(cursor, stream, header, typed=False)
                errors = self._validate(cursor)
                raise SnapshotError(
                    errors or [SnapshotRowError(0, None, _("the file could not be read"))]
                )

    def _copy(self, cursor, stream: BinaryIO, header: list[str], *, typed: bool) -> bool:
        """Stage the file; absent optional columns read as empty. False when the typed
        COPY refused a value (the text COPY then finds and names it)."""
        import psycopg2

        def pg_type(name: str) -> str:
            column = COLUMN_BY_NAME.get(name)
            return PG_TYPES.get(column.kind, "text") if typed and column else "text"

        cursor.execute("DROP TABLE IF EXISTS snapshot_raw")
        cols = ", ".join(f'"{h}" {pg_type(h)}' for h in header)
        cursor.execute(
            "CREATE TEMP TABLE snapshot_raw (line bigint GENERATED ALWAYS AS IDENTITY "
            f"(START WITH 2), {cols}) ON COMMIT DROP"
        )
        column_list = ", ".join(f'"{h}"' for h in header)
        try:
            with transaction.atomic():
                cursor.copy_expert(
                    f"COPY snapshot_raw ({column_list}) FROM STDIN "
                    "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                    _BomSkipper(stream),
                )
        except (psycopg2.DataError, DataError) as exc:
            if typed:
                return False
            raise SnapshotError([_copy_error(exc)]) from exc
        for column in COLUMNS:
            if column.name not in header:
                cursor.execute(
                    f'ALTER TABLE snapshot_raw ADD COLUMN "{column.name}" {pg_type(column.name)}'
                )
        return True

    def _cast(self, cursor, *, typed: bool) -> None:
        def text(name: str) -> str:
            return f"coalesce(trim(r.{name}), '')"

        def value(name: str, pg: str) -> str:
            return f"r.{name}" if typed else f"nullif(trim(r.{name}), '')::{pg}"

        def money(name: str) -> str:
            return f"coalesce({value(name, 'numeric')}, 0)"

        # The staged text is enough to notice a change; OFFSET 0 keeps the planner
        # from inlining (and so computing twice) the hash.
        hashed = (
            "hashtextextended(concat_ws('|', "
            + ", ".join(f"r.{c}" for c in HASHED_COLUMNS)
            + "), 0)::text"
        )
        cursor.execute(
            "CREATE TEMP TABLE snapshot_typed ON COMMIT DROP AS "
            f"SELECT x.*, ({self._bad_row()}) AS bad FROM (SELECT "
            "r.line, trim(r.credit_code) AS credit_code, trim(r.client_code) AS client_code, "
            "trim(r.client_name) AS client_name, trim(r.document_id) AS document_id, "
            "trim(r.product) AS product, upper(trim(r.currency)) AS currency, "
            f"{money('disbursed_amount')} AS disbursed_amount, "
            f"{money('principal_balance')} AS principal_balance, "
            f"{money('overdue_amount')} AS overdue_amount, "
            f"{value('overdue_installments', 'smallint')} AS overdue_installments, "
            f"{value('total_installments', 'smallint')} AS total_installments, "
            f"{value('days_past_due', 'integer')} AS days_past_due, a.id AS agency_id, "
            "nullif(trim(r.next_due_date), '')::date AS next_due_date, "
            f"{text('origin_officer_code')} AS origin_officer_code, "
            f"{text('phone')} AS phone, {text('email')} AS email, "
            f"{text('address')} AS address, "
            f"{value('lat', 'float8')} AS lat, {value('lon', 'float8')} AS lon, "
            "q.id AS quadrant_id, "
            f"{money('late_interest')} AS late_interest, "
            f"{money('collection_fees')} AS collection_fees, "
            f"{money('commissions')} AS commissions, "
            f"{text('quadrant_code')} AS quadrant_code, "
            f"{text('next_due_date')} AS next_due_text, "
            "h.row_hash, k.id AS credit_id, k.client_id, "
            "(k.id IS NULL OR k.left_on IS NOT NULL OR k.snapshot_hash <> h.row_hash) AS changed "
            f"FROM snapshot_raw r CROSS JOIN LATERAL (SELECT {hashed} AS row_hash OFFSET 0) h "
            "LEFT JOIN portfolio_agency a ON a.code = trim(r.agency_code) "
            "LEFT JOIN portfolio_quadrant q ON q.code = nullif(trim(r.quadrant_code), '') "
            "LEFT JOIN portfolio_credit k ON k.code = trim(r.credit_code) OFFSET 0) x"
        )

    @staticmethod
    def _bad_row() -> str:
        """Cheap checks on a typed row, for what a successful COPY does not prove."""
        money = (
            "disbursed_amount",
            "principal_balance",
            "overdue_amount",
            "late_interest",
            "collection_fees",
            "commissions",
        )
        bad = [f"{m} < 0 OR {m} >= 1e12 OR scale({m}) > 2" for m in money]
        for column in COLUMNS:
            if column.kind == "text" and column.name in TYPED_COLUMNS:
                if column.required:
                    bad.append(f"{column.name} = ''")
                if column.max_length:
                    bad.append(f"length({column.name}) > {column.max_length}")
        bad += [
            "currency NOT IN ('PEN', 'USD')",
            "overdue_installments < 0 OR total_installments < 0 OR days_past_due < 0",
            "overdue_installments > total_installments",
            "agency_id IS NULL",
            "quadrant_code <> '' AND quadrant_id IS NULL",
            "next_due_text <> '' AND next_due_text NOT LIKE '____-__-__'",
            "abs(lat) > 90 OR abs(lon) > 180",
        ]
        return " OR ".join(f"({b})" for b in bad)

    def _looks_clean(self, cursor) -> bool:
        """No row failed the cheap checks (computed in the same pass as the cast),
        and no credit code repeats (the unique index refuses it)."""
        cursor.execute("SELECT EXISTS (SELECT 1 FROM snapshot_typed WHERE bad)")
        if cursor.fetchone()[0]:
            return False
        cursor.execute("CREATE UNIQUE INDEX ON snapshot_typed (credit_code)")
        return True

    def _validate(self, cursor) -> list[SnapshotRowError]:
        """Every check, line by line, for a file that failed the cheap gate."""
        checks = []
        for column in COLUMNS:
            value = f'trim(r."{column.name}")'
            present = f"coalesce({value}, '') <> ''"
            if column.required:
                checks.append(
                    f"CASE WHEN NOT {present} THEN {_err(column, None, _('is empty'))} END"
                )
            if column.kind in PATTERNS:
                checks.append(
                    f"CASE WHEN {present} AND {value} !~ '{PATTERNS[column.kind]}' THEN "
                    f"{_err(column, value, _(KIND_MESSAGES[column.kind]))} END"
                )
            if column.kind == "date":
                checks.append(
                    f"CASE WHEN {present} AND {value} ~ '{PATTERNS['date']}' AND NOT "
                    f"pg_temp.semaforo_is_date({value}) THEN "
                    f"{_err(column, value, _(KIND_MESSAGES['date']))} END"
                )
            if column.kind in ("lat", "lon"):
                limit = 90 if column.kind == "lat" else 180
                checks.append(
                    f"CASE WHEN {present} AND {value} ~ '{PATTERNS[column.kind]}' AND "
                    f"abs({value}::float8) > {limit} THEN "
                    f"{_err(column, value, _(KIND_MESSAGES[column.kind]))} END"
                )
            if column.kind == "currency":
                checks.append(
                    f"CASE WHEN {present} AND upper({value}) NOT IN ('PEN', 'USD') THEN "
                    f"{_err(column, value, _(KIND_MESSAGES['currency']))} END"
                )
            if column.max_length:
                message = _("is longer than %(n)s characters") % {"n": column.max_length}
                checks.append(
                    f"CASE WHEN length({value}) > {column.max_length} THEN "
                    f"{_err(column, None, message)} END"
                )
        smallint = PATTERNS["smallint"]
        checks.append(
            f"CASE WHEN trim(r.overdue_installments) ~ '{smallint}' AND "
            f"trim(r.total_installments) ~ '{smallint}' AND "
            "trim(r.overdue_installments)::int > trim(r.total_installments)::int THEN "
            + _err(
                COLUMN_BY_NAME["overdue_installments"],
                None,
                _("is greater than total_installments"),
            )
            + " END"
        )
        checks.append(
            "CASE WHEN coalesce(trim(r.agency_code), '') <> '' AND a.id IS NULL THEN "
            + _err(
                COLUMN_BY_NAME["agency_code"],
                "trim(r.agency_code)",
                _("is not a known agency (load the organisation first)"),
            )
            + " END"
        )
        checks.append(
            "CASE WHEN coalesce(trim(r.quadrant_code), '') <> '' AND q.id IS NULL THEN "
            + _err(
                COLUMN_BY_NAME["quadrant_code"],
                "trim(r.quadrant_code)",
                _("is not a known quadrant"),
            )
            + " END"
        )
        checks.append(
            "CASE WHEN d.first_line IS NOT NULL AND d.first_line <> r.line THEN "
            + _err(
                COLUMN_BY_NAME["credit_code"],
                "trim(r.credit_code)",
                _("appears more than once; first at line"),
            )
            + " || ' ' || d.first_line END"
        )
        cursor.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.semaforo_is_date(v text) RETURNS boolean "
            "LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM v::date; RETURN true; "
            "EXCEPTION WHEN others THEN RETURN false; END $$"
        )
        cursor.execute(
            "SELECT line, err FROM ("
            "  SELECT r.line, unnest(array_remove(ARRAY[" + ", ".join(checks) + "], NULL)) AS err"
            "  FROM snapshot_raw r"
            "  LEFT JOIN portfolio_agency a ON a.code = trim(r.agency_code)"
            "  LEFT JOIN portfolio_quadrant q ON q.code = nullif(trim(r.quadrant_code), '')"
            "  LEFT JOIN (SELECT trim(credit_code) AS code, min(line) AS first_line"
            "             FROM snapshot_raw GROUP BY 1 HAVING count(*) > 1) d"
            "    ON d.code = trim(r.credit_code)"
            ") e ORDER BY line LIMIT %s",
            [settings.SEMAFORO["IMPORT_ERROR_LIMIT"]],
        )
        return [_row_error(line, err) for line, err in cursor.fetchall()]

    def write_positions(self, cursor, business_date: date, select_sql: str) -> None:
        """Build the day's partition apart, then attach it (replacing an earlier one)."""
        part = f"portfolio_creditposition_d{business_date:%Y%m%d}"
        following = business_date + timedelta(days=1)
        cursor.execute(f"DROP TABLE IF EXISTS {part}")
        cursor.execute(
            f"CREATE TABLE {part} (LIKE portfolio_creditposition INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS)"
        )
        cursor.execute(f"INSERT INTO {part} {select_sql}", [business_date])
        cursor.execute(
            f"ALTER TABLE {part} ADD CONSTRAINT {part}_bounds CHECK (business_date IS NOT NULL "
            "AND business_date >= %s AND business_date < %s)",
            [business_date, following],
        )
        cursor.execute(
            f"ALTER TABLE portfolio_creditposition ATTACH PARTITION {part} "
            "FOR VALUES FROM (%s) TO (%s)",
            [business_date, following],
        )
        cursor.execute(f"ALTER TABLE {part} DROP CONSTRAINT {part}_bounds")
        cursor.execute(f"ANALYZE {part}")  # the cycle reads this day's partition next


class _BomSkipper(io.RawIOBase):
    """A reader that drops a leading UTF-8 BOM, which COPY would keep in the header."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._first = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._first:
            self._first = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _copy_error(exc) -> SnapshotRowError:
    exc = exc.__cause__ if isinstance(exc, DataError) and exc.__cause__ else exc
    context = getattr(exc.diag, "context", "") or ""
    match = re.search(r"line (\d+)", context)
    line = int(match.group(1)) if match else 0
    primary = getattr(exc.diag, "message_primary", "") or str(exc)
    if "extra data after last expected column" in primary:
        message = _("has more fields than the header")
    elif "missing data for column" in primary:
        message = _("has fewer fields than the header")
    elif "invalid byte sequence" in primary:
        message = _("is not valid UTF-8")
    else:
        message = _("cannot be read as CSV")
    return SnapshotRowError(line, None, message)


def _sql_text(text: str) -> str:
    return str(text).replace("'", "''")


def _err(column: Column, value_sql: str | None, message: str) -> str:
    """SQL for 'column|<value> message'; personal values are never echoed (Ley 29733)."""
    text = f"'{column.name}|'"
    if value_sql is not None and not column.personal:
        text += f" || quote_literal(left({value_sql}, 40)) || ' '"
    return f"{text} || '{_sql_text(message)}'"


def _row_error(line: int, err: str) -> SnapshotRowError:
    name, _sep, message = err.partition("|")
    return SnapshotRowError(int(line), name, message.strip())


# --- SQLite: parse and check in Python, then the same merge -----------------------


class _SqliteStage:
    def stage(self, stream: BinaryIO, header: list[str]) -> None:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            rows = self._parse(csv.reader(text), header)
        finally:
            text.detach()
        ensure_sqlite_functions()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS temp.snapshot_typed")
            columns = ", ".join(TYPED_COLUMNS)
            cursor.execute(
                f"CREATE TEMP TABLE snapshot_typed ({columns}, credit_id, client_id, changed)"
            )
            placeholders = ", ".join(["%s"] * len(TYPED_COLUMNS))
            cursor.executemany(
                f"INSERT INTO snapshot_typed ({columns}) VALUES ({placeholders})", rows
            )
            cursor.execute(
                "CREATE UNIQUE INDEX temp.snapshot_typed_code ON snapshot_typed (credit_code)"
            )
            cursor.execute(
                "UPDATE snapshot_typed AS t SET credit_id = k.id, client_id = k.client_id "
                "FROM portfolio_credit k WHERE k.code = t.credit_code"
            )
            cursor.execute(
                "UPDATE snapshot_typed SET changed = (credit_id IS NULL OR EXISTS ("
                "SELECT 1 FROM portfolio_credit k WHERE k.id = snapshot_typed.credit_id AND "
                "(k.left_on IS NOT NULL OR k.snapshot_hash <> snapshot_typed.row_hash)))"
            )

    def _parse(self, reader: Iterable[list[str]], header: list[str]) -> list[tuple]:
        agencies = dict(Agency.objects.values_list("code", "id"))
        quadrants = dict(Quadrant.objects.values_list("code", "id"))
        errors: list[SnapshotRowError] = []
        first_line: dict[str, int] = {}
        rows = []
        limit = settings.SEMAFORO["IMPORT_ERROR_LIMIT"]
        width = len(header)
        reader = iter(reader)
        next(reader, None)
        for index, fields in enumerate(reader, start=2):
            if len(errors) >= limit:
                break
            if not fields:
                continue
            if len(fields) != width:
                errors.append(
                    SnapshotRowError(
                        index,
                        None,
                        _("has more fields than the header")
                        if len(fields) > width
                        else _("has fewer fields than the header"),
                    )
                )
                continue
            raw = {name: value.strip() for name, value in zip(header, fields, strict=True)}
            row_errors = _check_row(raw, index, agencies, quadrants, first_line)
            if row_errors:
                errors.extend(row_errors)
                continue
            rows.append(_typed_row(raw, index, agencies, quadrants))
        if errors:
            raise SnapshotError(errors[:limit])
        return rows


def _check_row(
    raw: dict[str, str],
    line: int,
    agencies: dict[str, int],
    quadrants: dict[str, int],
    first_line: dict[str, int],
) -> list[SnapshotRowError]:
    errors = []
    for column in COLUMNS:
        value = raw.get(column.name, "")
        shown = "" if column.personal else f"'{value[:40]}' "
        if column.required and value == "":
            errors.append(SnapshotRowError(line, column.name, _("is empty")))
            continue
        if value == "":
            continue
        kind = column.kind
        bad = False
        if kind in PATTERNS:
            bad = re.fullmatch(PATTERNS[kind], value) is None
            if not bad and kind == "date":
                try:
                    date.fromisoformat(value)
                except ValueError:
                    bad = True
            if not bad and kind in ("lat", "lon"):
                bad = abs(float(value)) > (90 if kind == "lat" else 180)
        elif kind == "currency":
            bad = value.upper() not in CURRENCIES
        if bad:
            errors.append(SnapshotRowError(line, column.name, shown + _(KIND_MESSAGES[kind])))
        if column.max_length and len(value) > column.max_length:
            errors.append(
                SnapshotRowError(
                    line,
                    column.name,
                    _("is longer than %(n)s characters") % {"n": column.max_length},
                )
            )
    smallint = PATTERNS["smallint"]
    overdue, total = raw.get("overdue_installments", ""), raw.get("total_installments", "")
    if (
        re.fullmatch(smallint, overdue)
        and re.fullmatch(smallint, total)
        and int(overdue) > int(total)
    ):
        errors.append(
            SnapshotRowError(line, "overdue_installments", _("is greater than total_installments"))
        )
    agency = raw.get("agency_code", "")
    if agency and agency not in agencies:
        errors.append(
            SnapshotRowError(
                line,
                "agency_code",
                f"'{agency}' " + _("is not a known agency (load the organisation first)"),
            )
        )
    quadrant = raw.get("quadrant_code", "")
    if quadrant and quadrant not in quadrants:
        errors.append(
            SnapshotRowError(line, "quadrant_code", f"'{quadrant}' " + _("is not a known quadrant"))
        )
    code = raw.get("credit_code", "")
    if code:
        if code in first_line:
            errors.append(
                SnapshotRowError(
                    line,
                    "credit_code",
                    f"'{code}' "
                    + _("appears more than once; first at line")
                    + f" {first_line[code]}",
                )
            )
        else:
            first_line[code] = line
    return errors


def _typed_row(
    raw: dict[str, str], line: int, agencies: dict[str, int], quadrants: dict[str, int]
) -> tuple:
    def money(name: str) -> str:
        value = raw.get(name, "")
        return str(Decimal(value).quantize(Decimal("0.01"))) if value else "0.00"

    def number(name: str) -> float | None:
        value = raw.get(name, "")
        return float(value) if value else None

    return (
        line,
        raw["credit_code"],
        raw["client_code"],
        raw["client_name"],
        raw["document_id"],
        raw["product"],
        raw["currency"].upper(),
        money("disbursed_amount"),
        money("principal_balance"),
        money("overdue_amount"),
        int(raw["overdue_installments"]),
        int(raw["total_installments"]),
        int(raw["days_past_due"]),
        agencies[raw["agency_code"]],
        raw.get("next_due_date") or None,
        raw.get("origin_officer_code", ""),
        raw.get("phone", ""),
        raw.get("email", ""),
        raw.get("address", ""),
        number("lat"),
        number("lon"),
        quadrants.get(raw.get("quadrant_code", "")),
        money("late_interest"),
        money("collection_fees"),
        money("commissions"),
        row_hash(raw),
    )


def row_hash(raw: dict[str, str]) -> str:
    text = "|".join(raw.get(c, "") for c in HASHED_COLUMNS)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


# --- The merge: the same statements on both databases -----------------------------

POSITIONS_SELECT = (
    "SELECT %s, t.credit_id, t.client_id, t.principal_balance, t.overdue_amount, "
    "t.overdue_installments, t.total_installments, t.days_past_due, t.next_due_date, "
    "t.late_interest, t.collection_fees, t.commissions FROM snapshot_typed t"
)


def _merge(business_date: date, stage) -> SnapshotResult:
    """Insert what is new, rewrite only what changed (by the row hash), write the
    day's positions, and mark the credits that left. A fixed number of statements."""
    result = SnapshotResult(business_date=business_date)
    postgres = connection.vendor == "postgresql"
    temp = "TEMP TABLE" + (" snapshot_client ON COMMIT DROP" if postgres else " snapshot_client")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM snapshot_typed")
        result.rows = cursor.fetchone()[0]

        # One row per client whose rows changed: the row of its most delinquent
        # credit (thesis 5.2.7), which also gives the client's agency.
        if not postgres:
            cursor.execute("DROP TABLE IF EXISTS temp.snapshot_client")
        cursor.execute(
            f"CREATE {temp} AS SELECT * FROM (SELECT t.*, row_number() OVER "
            "(PARTITION BY client_code ORDER BY days_past_due DESC, line) AS rn "
            "FROM snapshot_typed t WHERE t.client_code IN "
            "(SELECT c.client_code FROM snapshot_typed c WHERE c.changed)) x WHERE rn = 1"
        )
        cursor.execute("CREATE UNIQUE INDEX snapshot_client_code ON snapshot_client (client_code)")
        if postgres:
            cursor.execute("ANALYZE snapshot_client")
        _resolve_places(cursor)

        cursor.execute(
            "INSERT INTO portfolio_client (code, name, document_id, phone, email, "
            "preferred_channel, agency_id, created_on) "
            "SELECT s.client_code, s.client_name, s.document_id, s.phone, s.email, '', "
            "s.agency_id, %s FROM snapshot_client s WHERE NOT EXISTS "
            "(SELECT 1 FROM portfolio_client c WHERE c.code = s.client_code)",
            [business_date],
        )
        result.clients_new = cursor.rowcount
        analyze_if_grown(cursor, "portfolio_client", result.clients_new)
        # A contact left empty by core banking keeps what the client had (the
        # field may have added it); a given one replaces it.
        cursor.execute(
            "UPDATE portfolio_client AS c SET name = s.client_name, "
            "document_id = s.document_id, agency_id = s.agency_id, "
            "phone = CASE WHEN s.phone <> '' THEN s.phone ELSE c.phone END, "
            "email = CASE WHEN s.email <> '' THEN s.email ELSE c.email END "
            "FROM snapshot_client s WHERE c.code = s.client_code AND ("
            "c.name IS DISTINCT FROM s.client_name OR c.document_id IS DISTINCT FROM s.document_id "
            "OR c.agency_id IS DISTINCT FROM s.agency_id "
            "OR (s.phone <> '' AND c.phone IS DISTINCT FROM s.phone) "
            "OR (s.email <> '' AND c.email IS DISTINCT FROM s.email))"
        )
        cursor.execute(
            "INSERT INTO portfolio_address (client_id, guarantor_id, kind, text, lat, lon, "
            "quadrant_id, subzone_id) SELECT c.id, NULL, 'home', s.address, s.lat, s.lon, "
            "s.quadrant_id, s.subzone_id FROM snapshot_client s "
            "JOIN portfolio_client c ON c.code = s.client_code WHERE NOT EXISTS "
            "(SELECT 1 FROM portfolio_address a WHERE a.client_id = c.id AND a.kind = 'home' "
            "AND a.guarantor_id IS NULL)"
        )
        analyze_if_grown(cursor, "portfolio_address", cursor.rowcount)
        cursor.execute(
            "UPDATE portfolio_address AS a SET text = s.address, lat = s.lat, lon = s.lon, "
            "quadrant_id = s.quadrant_id, subzone_id = s.subzone_id "
            "FROM snapshot_client s JOIN portfolio_client c ON c.code = s.client_code "
            "WHERE a.client_id = c.id AND a.kind = 'home' AND a.guarantor_id IS NULL "
            "AND (s.address <> '' OR s.lat IS NOT NULL) AND ("
            "a.text IS DISTINCT FROM s.address OR a.lat IS DISTINCT FROM s.lat "
            "OR a.lon IS DISTINCT FROM s.lon OR a.quadrant_id IS DISTINCT FROM s.quadrant_id "
            "OR a.subzone_id IS DISTINCT FROM s.subzone_id)"
        )

        cursor.execute(
            "INSERT INTO portfolio_credit (code, client_id, product, currency, disbursed_amount, "
            "agency_id, origin_officer_code, first_seen_on, left_on, snapshot_hash) "
            "SELECT t.credit_code, c.id, t.product, t.currency, t.disbursed_amount, t.agency_id, "
            "t.origin_officer_code, %s, NULL, t.row_hash FROM snapshot_typed t "
            "JOIN portfolio_client c ON c.code = t.client_code WHERE t.credit_id IS NULL",
            [business_date],
        )
        result.credits_new = cursor.rowcount
        analyze_if_grown(cursor, "portfolio_credit", result.credits_new)
        cursor.execute(
            "UPDATE portfolio_credit AS k SET client_id = c.id, product = t.product, "
            "currency = t.currency, disbursed_amount = t.disbursed_amount, "
            "agency_id = t.agency_id, origin_officer_code = t.origin_officer_code, "
            "left_on = NULL, snapshot_hash = t.row_hash "
            "FROM snapshot_typed t JOIN portfolio_client c ON c.code = t.client_code "
            "WHERE k.id = t.credit_id AND t.changed"
        )
        # The ids of the credits just written, for the day's positions.
        cursor.execute(
            "UPDATE snapshot_typed AS t SET credit_id = k.id, client_id = k.client_id "
            "FROM portfolio_credit k WHERE t.changed AND k.code = t.credit_code"
        )
        # Absent from the snapshot: paid off or transferred; it leaves the portfolio.
        cursor.execute(
            "UPDATE portfolio_credit SET left_on = %s WHERE left_on IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM snapshot_typed t WHERE t.credit_code = portfolio_credit.code)",
            [business_date],
        )
        result.credits_left = cursor.rowcount

        if postgres:
            stage.write_positions(cursor, business_date, POSITIONS_SELECT)
        else:
            cursor.execute(
                "DELETE FROM portfolio_creditposition WHERE business_date = %s", [business_date]
            )
            cursor.execute(
                "INSERT INTO portfolio_creditposition (business_date, credit_id, client_id, "
                "principal_balance, overdue_amount, overdue_installments, total_installments, "
                "days_past_due, next_due_date, late_interest, collection_fees, commissions) "
                + POSITIONS_SELECT,
                [business_date],
            )
            cursor.execute("DROP TABLE IF EXISTS temp.snapshot_client")
            cursor.execute("DROP TABLE IF EXISTS temp.snapshot_typed")
    return result


def _resolve_places(cursor) -> None:
    """A row without quadrant_code gets the quadrant containing its coordinates;
    without either, its agency's first subzone by code (DOMAIN.md 7.5)."""
    cursor.execute("SELECT coalesce(max(size_m), 0) FROM portfolio_quadrant")
    max_size = cursor.fetchone()[0] or 0
    if connection.vendor == "postgresql":
        cursor.execute("ALTER TABLE snapshot_client ADD COLUMN subzone_id bigint")
    else:
        cursor.execute("ALTER TABLE snapshot_client ADD COLUMN subzone_id")
    if max_size:
        reach = max_size / 2 / METRES_PER_DEGREE
        cursor.execute(
            "UPDATE snapshot_client SET quadrant_id = (SELECT q.id FROM portfolio_quadrant q "
            "WHERE q.lat BETWEEN snapshot_client.lat - %s AND snapshot_client.lat + %s "
            "AND abs(snapshot_client.lat - q.lat) * %s <= q.size_m / 2.0 "
            "AND abs(snapshot_client.lon - q.lon) * %s * cos(radians(q.lat)) <= q.size_m / 2.0 "
            "ORDER BY q.code LIMIT 1) "
            "WHERE quadrant_id IS NULL AND lat IS NOT NULL AND lon IS NOT NULL",
            [reach, reach, METRES_PER_DEGREE, METRES_PER_DEGREE],
        )
    cursor.execute(
        "UPDATE snapshot_client SET subzone_id = coalesce("
        "(SELECT q.subzone_id FROM portfolio_quadrant q WHERE q.id = snapshot_client.quadrant_id), "
        "(SELECT z.id FROM portfolio_subzone z WHERE z.agency_id = snapshot_client.agency_id "
        "ORDER BY z.code LIMIT 1))"
    )
