"""Import of the core-banking snapshot (DOMAIN.md 7.1).

PostgreSQL: COPY the file into a typed unlogged table; two parallel reads joined
with the credits note what changed and write the unchanged, sound rows'
positions into the day's partition (built apart, then attached); only the
changed clients' rows are cast and merged with a fixed number of statements
(insert the new, update only what changed). A bad file is staged again as text
and validated by one set-based query that returns the bad lines.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, NoReturn

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portfolio.db import (
    analyze_if_grown,
    ensure_sqlite_functions,
    foreign_keys_restore,
    foreign_keys_set_aside,
    indexes_restore,
    indexes_set_aside,
    tune_bulk_session,
)
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
    digest = _Digest(source, stream)
    stage = None
    try:
        previous = SnapshotImport.objects.filter(business_date=business_date).first()
        later = SnapshotImport.objects.filter(business_date__gt=business_date).first()
        # The same file again: found now if it need not be staged to be told apart.
        early = previous is not None and (later is not None or not digest.in_background)
        if early and previous.sha256 == digest.result():
            return _unchanged(business_date, previous)
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
        # A file on disk, in a transaction of the import's own, may be staged over two
        # connections at once (`_PostgresStage`); in a caller's transaction it may not.
        halves = Path(source) if isinstance(source, (str, Path)) else None
        if connection.in_atomic_block:
            halves = None
        if connection.vendor == "postgresql":
            stage = _PostgresStage(halves=halves)
        else:
            stage = _SqliteStage()
        with transaction.atomic():
            tune_bulk_session()
            try:
                with transaction.atomic():
                    stage.stage(stream, header, business_date)
                    sha = digest.result()
                    if previous is not None and previous.sha256 == sha:
                        raise _SameFile
                    result = _merge(business_date, stage)
            except (DataError, IntegrityError) as exc:
                stage.refuse(stream, header, exc)
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
    except _SameFile:
        return _unchanged(business_date, previous)
    finally:
        if stage is not None:
            stage.close()
        if owned:
            stream.close()


class _SameFile(Exception):
    """The file the date already holds, found once staged: the staging rolls back."""


def _unchanged(business_date: date, previous: SnapshotImport) -> SnapshotResult:
    return SnapshotResult(business_date=business_date, rows=previous.rows, unchanged=True)


class _Digest:
    """The file's SHA-256. A file on disk is hashed on a thread of its own while the
    import stages it (hashlib lets go of the GIL: 0.3 s a night at 1M credits, no
    longer in line); so a file sent again for its date is found the same once staged,
    and its staging rolls back. A stream is hashed first, as it can be read once at a
    time."""

    def __init__(self, source: Path | str | BinaryIO, stream: BinaryIO):
        self._sha: str | None = None
        self._pool = None
        self.in_background = isinstance(source, (str, Path))
        if self.in_background:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-sha")
            self._future = self._pool.submit(_sha256_of_path, Path(source))
        else:
            self._sha = _sha256(stream)

    def result(self) -> str:
        if self._sha is None:
            self._sha = self._future.result()
            self._pool.shutdown()
        return self._sha


def _sha256_of_path(path: Path) -> str:
    with path.open("rb") as stream:
        return _sha256(stream)


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


# A file on disk at least this big is staged in two halves at once (below it, one
# COPY is about as quick as two plus their setup).
HALVES_MIN_BYTES = 8 << 20

# PostgreSQL types for a COPY straight into typed columns. Dates stay text so that
# only ISO dates pass (the server would also read 02/11/2026, by its DateStyle).
PG_TYPES = {"money": "numeric", "int": "integer", "smallint": "smallint",
            "lat": "float8", "lon": "float8"}  # fmt: skip

# The change detector of a staged row (the stored `snapshot_hash`): one hash per
# column, each with its own seed (a value moved to the next column, or an empty
# one, changes it), combined by XOR.
_HASHERS = {"money": "hash_numeric_extended", "lat": "hashfloat8extended",
            "lon": "hashfloat8extended"}  # fmt: skip
ROW_HASH = (
    "("
    + " # ".join(
        f"coalesce({_HASHERS.get(COLUMN_BY_NAME[c].kind, 'hashtextextended')}(r.{c}, {seed}), "
        f"{seed})"
        for seed, c in enumerate(HASHED_COLUMNS, start=1)
    )
    + ")::text"
)


def _suspect_row(*, every_column: bool) -> str:
    """Cheap checks on a staged row, for what a successful typed COPY does not prove.
    Each compares the value as staged first where it can: trim() (which copies the
    value) then runs only on the rare values with spaces around them. Without
    `every_column`, the columns under the row hash are left out: a row whose hash
    is unchanged repeats values already checked, and the others are checked again
    in the typed rows."""
    bad = []
    for column in COLUMNS:
        if not every_column and column.name in (*HASHED_COLUMNS, "credit_code"):
            continue
        name = f"r.{column.name}"
        if column.kind == "text":
            if column.required:
                blank = f"starts_with({name}, ' ') AND trim({name}) = ''"
                bad.append(f"{name} IS NULL OR {name} = '' OR ({blank})")
            if column.max_length:
                n = column.max_length
                bad.append(f"octet_length({name}) > {n} AND length(trim({name})) > {n}")
        elif column.required:
            bad.append(f"{name} IS NULL")
        if column.kind == "money":
            bad.append(f"{name} < 0 OR {name} >= 1e12 OR scale({name}) > 2")
    bad += [
        "r.overdue_installments < 0 OR r.total_installments < 0 OR r.days_past_due < 0",
        "r.overdue_installments > r.total_installments",
        "r.next_due_date NOT LIKE '____-__-__' AND trim(r.next_due_date) <> '' "
        "AND trim(r.next_due_date) NOT LIKE '____-__-__'",
        # Agencies and quadrants can change under an unchanged row. Uncorrelated sets
        # (hashed once per process): a correlated subquery keeps a statement off
        # parallel workers.
        "trim(r.agency_code) NOT IN (SELECT a.code FROM portfolio_agency a)",
        "nullif(trim(r.quadrant_code), '') NOT IN (SELECT q.code FROM portfolio_quadrant q)",
    ]
    if every_column:
        bad += [
            "coalesce(r.currency, '') NOT IN ('PEN', 'USD') "
            "AND coalesce(upper(trim(r.currency)), '') NOT IN ('PEN', 'USD')",
            "abs(r.lat) > 90 OR abs(r.lon) > 180",
        ]
    return "coalesce(" + " OR ".join(f"({b})" for b in bad) + ", false)"


class _PostgresStage:
    """COPY straight into typed columns, then two reads of every row joined with the
    credits: one notes the new, returning or changed credits (by the row hash) and
    the active ones the file no longer lists; the other writes the positions of the
    unchanged credits into the day's partition, leaving out the rows that fail the
    cheap checks of what COPY does not prove. Only the clients of the noted rows get
    the full cast and the merge; their positions follow once their credits exist.

    A file the typed COPY refuses or the checks suspect, or whose merge breaks a
    constraint or a cast (a repeated credit code, an impossible date), is staged
    again as text and pays for the line-by-line validation that names every error.

    A big file on disk is staged in two halves at once, the second over a connection
    of its own (COPY keeps one core busy; 3.2 s -> 1.7-1.9 s at 1M credits). That
    half must be committed to be read, so its table is created and filled outside the
    import's transaction (and written frozen), then attached; `close` drops what is
    left whatever happens. Each half is a partition (`half` 0 and 1): a row is told
    by (half, ctid), and (half, ctid) is file order.
    """

    rows = 0
    noted = 0  # lines of new, returning or changed credits

    def __init__(self, *, halves: Path | None = None):
        self.halves = halves  # the file on disk, if it may be staged in two halves
        self.raw = ""
        self._helper = None  # the second half's connection (autocommit)

    def stage(self, stream: BinaryIO, header: list[str], business_date: date) -> None:
        with connection.cursor() as cursor:
            # A table of its own (not a temporary one, which parallel workers cannot
            # read), unlogged (a crash loses nothing: the import starts again), and
            # named after this session (two imports do not wait for each other).
            cursor.execute("SELECT 'snapshot_raw_' || pg_backend_pid()")
            self.raw = cursor.fetchone()[0]
            if not self._copy(cursor, stream, header, typed=True):
                self.refuse(stream, header)
            self.part = f"portfolio_creditposition_d{business_date:%Y%m%d}"
            # Every line is either written to the partition (unchanged and sound) or
            # noted as changed: one missing is a suspect row.
            if self._pass(cursor, business_date) < self.rows:
                self.refuse(stream, header)
            cursor.execute("ANALYZE snapshot_delta")
            self._cast(cursor)
            cursor.execute("SELECT EXISTS (SELECT 1 FROM snapshot_typed WHERE suspect)")
            if cursor.fetchone()[0]:
                self.refuse(stream, header)

    def refuse(self, stream: BinaryIO, header: list[str], exc: Exception | None = None) -> NoReturn:
        """Name the bad lines; a failure they do not explain is raised as it came."""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.raw}")
            stream.seek(0)
            self._copy(cursor, stream, header, typed=False)
            errors = self._validate(cursor)
        if errors:
            raise SnapshotError(errors)
        if exc is not None:
            raise exc
        raise SnapshotError([SnapshotRowError(0, None, _("the file could not be read"))])

    def _copy(self, cursor, stream: BinaryIO, header: list[str], *, typed: bool) -> bool:
        """Stage the file; absent optional columns read as empty. False when the typed
        COPY refused a value (the text COPY then finds and names it)."""
        import psycopg2

        def pg_type(name: str) -> str:
            column = COLUMN_BY_NAME.get(name)
            return PG_TYPES.get(column.kind, "text") if typed and column else "text"

        cols = ", ".join(f'"{h}" {pg_type(h)}' for h in header)
        column_list = ", ".join(f'"{h}"' for h in header)
        if not (typed and self._copy_halves(cursor, cols, column_list)):
            # The text staging numbers the lines for the errors; the typed one goes
            # without (a sequence costs 0.3 s a million rows): one COPY into a new table
            # lays the rows in file order, so a row's ctid stands for its line there.
            line = "" if typed else "line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), "
            cursor.execute(f"DROP TABLE IF EXISTS {self.raw}")
            cursor.execute(
                f"CREATE UNLOGGED TABLE {self.raw} (half smallint NOT NULL DEFAULT 0, {line}{cols})"
            )
            try:
                with transaction.atomic():
                    cursor.copy_expert(
                        f"COPY {self.raw} ({column_list}) FROM STDIN "
                        "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                        _BomSkipper(stream),
                    )
                    self.rows = cursor.rowcount
            except (psycopg2.DataError, DataError) as exc:
                if typed:
                    return False
                raise SnapshotError([_copy_error(exc)]) from exc
        for column in COLUMNS:
            if column.name not in header:
                cursor.execute(
                    f'ALTER TABLE {self.raw} ADD COLUMN "{column.name}" {pg_type(column.name)}'
                )
        return True

    def _copy_halves(self, cursor, cols: str, column_list: str) -> bool:
        """Stage the file in two halves at once, split at a line's end; False when it
        is too small to gain or either half failed (a bad value, or a split inside a
        quoted field, which leaves the first half's last field open): one COPY then
        stages it again and tells which."""
        import psycopg2

        if self.halves is None or self.halves.stat().st_size < HALVES_MIN_BYTES:
            return False
        size = self.halves.stat().st_size
        with self.halves.open("rb") as stream:
            stream.seek(size // 2)
            stream.readline()
            middle = stream.tell()
        if middle >= size:
            return False
        try:
            helper = self._helper_connection()
        except psycopg2.OperationalError:
            return False  # no second connection to be had (max_connections): one COPY
        with helper.cursor() as h:
            h.execute(f"DROP TABLE IF EXISTS {self.raw}, {self.raw}_1")
            h.execute(f"CREATE TABLE {self.raw} (half smallint NOT NULL, {cols}) "
                      "PARTITION BY LIST (half)")  # fmt: skip
            h.execute(f"CREATE UNLOGGED TABLE {self.raw}_0 PARTITION OF {self.raw} "
                      "(half DEFAULT 0) FOR VALUES IN (0)")  # fmt: skip

        def second_half() -> int:
            # Created in the COPY's own transaction, so that its rows are written
            # frozen: the import reads them without setting (and writing out) hint
            # bits. A table of its own until then (creating a partition would lock
            # the parent against the first half's COPY); its check lets the attach
            # skip reading it.
            helper.autocommit = False
            try:
                with helper.cursor() as h, _Slice(self.halves, middle, size) as part:
                    h.execute(f"CREATE UNLOGGED TABLE {self.raw}_1 (half smallint NOT NULL "
                              f"DEFAULT 1 CHECK (half = 1), {cols})")  # fmt: skip
                    h.copy_expert(
                        f"COPY {self.raw}_1 ({column_list}) FROM STDIN "
                        "WITH (FORMAT csv, ENCODING 'UTF8', FREEZE true)",
                        part,
                        size=1 << 20,
                    )
                    rows = h.rowcount
                helper.commit()
            except BaseException:
                helper.rollback()
                raise
            finally:
                helper.autocommit = True
            return rows

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-half") as pool:
            second = pool.submit(second_half)
            first = None
            try:
                with transaction.atomic(), _Slice(self.halves, 0, middle) as part:
                    cursor.copy_expert(
                        f"COPY {self.raw}_0 ({column_list}) FROM STDIN "
                        "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                        _BomSkipper(part),
                        1 << 20,  # bytes a read
                    )
                    first = cursor.rowcount
            except (psycopg2.DataError, DataError):
                pass  # the second half runs to its end; a single COPY tells which
            try:
                rows = second.result()
            except psycopg2.DataError:
                return False
        if first is None:
            return False
        cursor.execute(f"ALTER TABLE {self.raw} ATTACH PARTITION {self.raw}_1 FOR VALUES IN (1)")
        self.rows = first + rows
        return True

    def _helper_connection(self):
        """A connection of its own, committing each statement. Staging tables left by
        an import whose connection is gone (a crash between staging and `close`) are
        dropped first."""
        if self._helper is None:
            self._helper = connection.get_new_connection(connection.get_connection_params())
            self._helper.autocommit = True
            with self._helper.cursor() as h:
                h.execute(
                    "SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 'p') "
                    "AND c.relname ~ '^snapshot_raw_[0-9]+(_1)?$' AND NOT c.relispartition "
                    "AND c.relnamespace = current_schema()::regnamespace "
                    "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
                    "WHERE a.pid = substring(c.relname FROM '^snapshot_raw_([0-9]+)')::int)"
                )
                for (name,) in h.fetchall():
                    h.execute(f"DROP TABLE IF EXISTS {name}")
        return self._helper

    def close(self) -> None:
        """After the import's transaction: drop the staging tables filled outside it."""
        if self._helper is not None:
            with self._helper.cursor() as h:
                h.execute(f"DROP TABLE IF EXISTS {self.raw}, {self.raw}_1")
            self._helper.close()
            self._helper = None

    def _pass(self, cursor, business_date: date) -> int:
        """Note the changed rows, write the unchanged ones' positions; return how many
        lines that accounts for. Two reads of the file joined with the credits, each
        a CREATE TABLE … AS on parallel workers (PostgreSQL 15 runs neither a full
        join nor an INSERT … SELECT in parallel): 5.5 s -> 4.1 s at 1M credits."""
        # The planner's default costs of handing rows between processes keep these
        # statements serial, at twice the time; and, without statistics on the file,
        # it would sort both sides of the anti-join rather than hash one (3x slower).
        cursor.execute("SET LOCAL parallel_setup_cost = 0")
        cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(
            "CREATE TEMP TABLE snapshot_delta ON COMMIT DROP AS "
            "SELECT r.half, r.ctid AS line, trim(r.client_code) AS client_code, "
            "k.id AS credit_id "
            f"FROM {self.raw} r LEFT JOIN portfolio_credit k ON k.code = trim(r.credit_code) "
            f"WHERE k.id IS NULL OR k.left_on IS NOT NULL OR k.snapshot_hash <> {ROW_HASH} "
            "UNION ALL SELECT NULL, NULL, NULL, k.id FROM portfolio_credit k "
            "WHERE k.left_on IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {self.raw} r WHERE trim(r.credit_code) = k.code)"
        )
        cursor.execute("RESET enable_mergejoin")
        cursor.execute("SELECT count(line) FROM snapshot_delta")
        noted = self.noted = cursor.fetchone()[0]
        # The partition's columns, typed and constrained as the parent's (ATTACH
        # requires it), from the catalog.
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = 'portfolio_creditposition'::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'portfolio_creditposition'::regclass AND contype = 'c'"
        )
        checks = cursor.fetchall()
        values = {
            "business_date": "%s", "credit_id": "k.id", "client_id": "k.client_id",
            "next_due_date": "CASE WHEN r.next_due_date LIKE '____-__-__' THEN "
            "r.next_due_date::date ELSE nullif(trim(r.next_due_date), '')::date END",
            **{name: f"coalesce(r.{name}, 0)"
               for name in ("late_interest", "collection_fees", "commissions")},
        }  # fmt: skip
        select = ", ".join(
            f"({values.get(name, 'r.' + name)})::{kind} AS {name}" for name, kind, _ in columns
        )
        cursor.execute(f"DROP TABLE IF EXISTS {self.part}")
        # The unchanged rows are the joined ones not just noted: a look-up among the few
        # noted lines (a set the leader hashes once; a temporary table is out of the
        # workers' reach) instead of every line's row hash again (1 s at 1M credits).
        cursor.execute(
            f"CREATE TABLE {self.part} AS SELECT {select} "
            f"FROM {self.raw} r JOIN portfolio_credit k ON k.code = trim(r.credit_code) "
            "WHERE k.left_on IS NULL AND NOT EXISTS (SELECT 1 FROM snapshot_delta d "
            "WHERE d.half = r.half AND d.line = r.ctid) "
            f"AND NOT {_suspect_row(every_column=False)}",
            [business_date],
        )
        written = cursor.rowcount
        cursor.execute("RESET parallel_setup_cost")
        cursor.execute("RESET parallel_tuple_cost")
        following = business_date + timedelta(days=1)
        constraints = [
            f"ALTER COLUMN {name} SET NOT NULL" for name, _, notnull in columns if notnull
        ]
        constraints += [f"ADD CONSTRAINT {name} {definition}" for name, definition in checks]
        constraints.append(
            f"ADD CONSTRAINT {self.part}_bounds CHECK "
            "(business_date IS NOT NULL AND business_date >= %s AND business_date < %s)"
        )
        cursor.execute(
            f"ALTER TABLE {self.part} {', '.join(constraints)}", [business_date, following]
        )
        return noted + written

    def _cast(self, cursor) -> None:
        """The typed rows of every client with a changed row (all its credits: the
        most delinquent one gives the client's figures)."""

        def text(name: str) -> str:
            return f"coalesce(trim(r.{name}), '')"

        def money(name: str) -> str:
            return f"coalesce(r.{name}, 0)"

        # Every line noted (a first load): every row is typed, no need to find them.
        changed, of_changed_clients = "true", ""
        if self.noted < self.rows:
            changed = "(d.line IS NOT NULL)"
            of_changed_clients = (
                "LEFT JOIN snapshot_delta d ON d.half = r.half AND d.line = r.ctid "
                "WHERE trim(r.client_code) IN "
                "(SELECT c.client_code FROM snapshot_delta c WHERE c.line IS NOT NULL)"
            )
        cursor.execute(
            "CREATE TEMP TABLE snapshot_typed ON COMMIT DROP AS SELECT "
            "r.half, r.ctid AS line, trim(r.credit_code) AS credit_code, "
            "trim(r.client_code) AS client_code, "
            "trim(r.client_name) AS client_name, trim(r.document_id) AS document_id, "
            "trim(r.product) AS product, upper(trim(r.currency)) AS currency, "
            f"{money('disbursed_amount')} AS disbursed_amount, "
            f"{money('principal_balance')} AS principal_balance, "
            f"{money('overdue_amount')} AS overdue_amount, "
            "r.overdue_installments, r.total_installments, r.days_past_due, a.id AS agency_id, "
            "nullif(trim(r.next_due_date), '')::date AS next_due_date, "
            f"{text('origin_officer_code')} AS origin_officer_code, "
            f"{text('phone')} AS phone, {text('email')} AS email, "
            f"{text('address')} AS address, r.lat, r.lon, q.id AS quadrant_id, "
            f"{money('late_interest')} AS late_interest, "
            f"{money('collection_fees')} AS collection_fees, "
            f"{money('commissions')} AS commissions, "
            f"{ROW_HASH} AS row_hash, k.id AS credit_id, k.client_id, "
            f"{changed} AS changed, {_suspect_row(every_column=True)} AS suspect "
            f"FROM {self.raw} r "
            "LEFT JOIN portfolio_agency a ON a.code = trim(r.agency_code) "
            "LEFT JOIN portfolio_quadrant q ON q.code = nullif(trim(r.quadrant_code), '') "
            f"LEFT JOIN portfolio_credit k ON k.code = trim(r.credit_code) {of_changed_clients}"
        )
        # A first load types every row: without counts the planner guessed 2,000 new
        # credits and looked their clients up one by one (5 s for a million).
        cursor.execute("ANALYZE snapshot_typed")

    def mark_left(self, cursor, business_date: date) -> int:
        cursor.execute(
            "UPDATE portfolio_credit AS k SET left_on = %s FROM snapshot_delta d "
            "WHERE d.line IS NULL AND k.id = d.credit_id AND k.left_on IS NULL",
            [business_date],
        )
        return cursor.rowcount

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
            f"  FROM {self.raw} r"
            "  LEFT JOIN portfolio_agency a ON a.code = trim(r.agency_code)"
            "  LEFT JOIN portfolio_quadrant q ON q.code = nullif(trim(r.quadrant_code), '')"
            "  LEFT JOIN (SELECT trim(credit_code) AS code, min(line) AS first_line"
            f"             FROM {self.raw} GROUP BY 1 HAVING count(*) > 1) d"
            "    ON d.code = trim(r.credit_code)"
            ") e ORDER BY line LIMIT %s",
            [settings.SEMAFORO["IMPORT_ERROR_LIMIT"]],
        )
        return [_row_error(line, err) for line, err in cursor.fetchall()]

    def write_positions(self, cursor, business_date: date) -> None:
        """The positions of the rows the merge wrote, then attach the day's partition
        (replacing an earlier one)."""
        following = business_date + timedelta(days=1)
        cursor.execute(
            f"INSERT INTO {self.part} SELECT %s, k.id, k.client_id, t.principal_balance, "
            "t.overdue_amount, t.overdue_installments, t.total_installments, t.days_past_due, "
            "t.next_due_date, t.late_interest, t.collection_fees, t.commissions "
            "FROM snapshot_typed t JOIN portfolio_credit k ON k.code = t.credit_code "
            "WHERE t.changed",
            [business_date],
        )
        # A repeated credit code stops here (the attach builds the primary key).
        cursor.execute(
            f"ALTER TABLE portfolio_creditposition ATTACH PARTITION {self.part} "
            "FOR VALUES FROM (%s) TO (%s)",
            [business_date, following],
        )
        cursor.execute(f"ALTER TABLE {self.part} DROP CONSTRAINT {self.part}_bounds")
        cursor.execute(f"ANALYZE {self.part}")  # the cycle reads this day's partition next
        cursor.execute(f"DROP TABLE {self.raw}")


class _Slice(io.RawIOBase):
    """Bytes `start` to `end` of a file, read through a handle of its own."""

    def __init__(self, path: Path, start: int, end: int):
        self._file = path.open("rb")
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._file.readline(self._left if size < 0 else min(size, self._left))
        self._left -= len(line)
        return line

    def close(self) -> None:
        self._file.close()
        super().close()


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
    noted = -1  # not counted: the merge looks for the changed clients

    def stage(self, stream: BinaryIO, header: list[str], business_date: date) -> None:
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
                "CREATE TEMP TABLE snapshot_typed "
                f"(half DEFAULT 0, {columns}, credit_id, client_id, changed)"
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
        self.rows = len(rows)

    def refuse(self, stream: BinaryIO, header: list[str], exc: Exception) -> NoReturn:
        """Every bad line was named while parsing: this is not the file's fault."""
        raise exc

    def close(self) -> None:
        """Nothing staged outside the import's transaction."""

    def mark_left(self, cursor, business_date: date) -> int:
        cursor.execute(
            "UPDATE portfolio_credit SET left_on = %s WHERE left_on IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM snapshot_typed t WHERE t.credit_code = portfolio_credit.code)",
            [business_date],
        )
        return cursor.rowcount

    def write_positions(self, cursor, business_date: date) -> None:
        # The ids of the credits just written.
        cursor.execute(
            "UPDATE snapshot_typed AS t SET credit_id = k.id, client_id = k.client_id "
            "FROM portfolio_credit k WHERE t.changed AND k.code = t.credit_code"
        )
        cursor.execute(
            "DELETE FROM portfolio_creditposition WHERE business_date = %s", [business_date]
        )
        cursor.execute(
            "INSERT INTO portfolio_creditposition (business_date, credit_id, client_id, "
            "principal_balance, overdue_amount, overdue_installments, total_installments, "
            "days_past_due, next_due_date, late_interest, collection_fees, commissions) "
            "SELECT %s, t.credit_id, t.client_id, t.principal_balance, t.overdue_amount, "
            "t.overdue_installments, t.total_installments, t.days_past_due, t.next_due_date, "
            "t.late_interest, t.collection_fees, t.commissions FROM snapshot_typed t",
            [business_date],
        )
        cursor.execute("DROP TABLE IF EXISTS temp.snapshot_client")
        cursor.execute("DROP TABLE IF EXISTS temp.snapshot_typed")

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


def _merge(business_date: date, stage) -> SnapshotResult:
    """Insert what is new, rewrite only what changed (by the row hash), write the
    day's positions, and mark the credits that left. A fixed number of statements."""
    result = SnapshotResult(business_date=business_date, rows=stage.rows)
    postgres = connection.vendor == "postgresql"
    temp = "TEMP TABLE" + (" snapshot_client ON COMMIT DROP" if postgres else " snapshot_client")
    with connection.cursor() as cursor:
        # One row per client whose rows changed: the row of its most delinquent
        # credit (thesis 5.2.7), which also gives the client's agency, and the
        # client's place (DOMAIN.md 7.5). The ranking reads narrow rows only.
        if not postgres:
            cursor.execute("DROP TABLE IF EXISTS temp.snapshot_client")
        quadrant, params = _quadrant_by_coordinates(cursor)
        # OFFSET 0: PostgreSQL would otherwise inline, and so run twice, the lookup.
        keep = " OFFSET 0" if postgres else ""
        # Grouped, not ordered, by client: byte order sorts fastest. A first load
        # (every row changed) needs no search for the changed clients.
        client = 'client_code COLLATE "C"' if postgres else "client_code"
        changed = (
            ""
            if stage.noted == stage.rows
            else "WHERE client_code IN (SELECT c.client_code FROM snapshot_typed c WHERE c.changed)"
        )
        cursor.execute(
            f"CREATE {temp} AS SELECT p.*, coalesce(qs.subzone_id, fz.id) AS subzone_id "
            f"FROM (SELECT t.*, coalesce(t.quadrant_id, {quadrant}) AS home_quadrant_id "
            "FROM snapshot_typed t JOIN (SELECT half, line, row_number() OVER "
            f"(PARTITION BY {client} ORDER BY days_past_due DESC, half, line) AS rn "
            f"FROM snapshot_typed {changed}) w "
            f"ON w.half = t.half AND w.line = t.line AND w.rn = 1{keep}) p "
            "LEFT JOIN portfolio_quadrant qs ON qs.id = p.home_quadrant_id "
            "LEFT JOIN (SELECT z.agency_id, z.id FROM portfolio_subzone z "
            "JOIN (SELECT agency_id, min(code) AS code FROM portfolio_subzone GROUP BY agency_id) "
            "f ON f.agency_id = z.agency_id AND f.code = z.code) fz ON fz.agency_id = p.agency_id",
            params,
        )
        staged = cursor.rowcount  # -1 where the driver does not count (SQLite)
        cursor.execute("CREATE UNIQUE INDEX snapshot_client_code ON snapshot_client (client_code)")
        set_aside, indexes = [], []
        if postgres:
            cursor.execute("ANALYZE snapshot_client")
            if _bulk_load(cursor):
                set_aside = foreign_keys_set_aside(cursor, BULK_TABLES)
                indexes = indexes_set_aside(cursor, BULK_TABLES)

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
        # field may have added it); a given one replaces it. (Every client just
        # inserted, as on a first load: nothing to compare.)
        if result.clients_new != staged:
            cursor.execute(
                "UPDATE portfolio_client AS c SET name = s.client_name, "
                "document_id = s.document_id, agency_id = s.agency_id, "
                "phone = CASE WHEN s.phone <> '' THEN s.phone ELSE c.phone END, "
                "email = CASE WHEN s.email <> '' THEN s.email ELSE c.email END "
                "FROM snapshot_client s WHERE c.code = s.client_code AND ("
                "c.name IS DISTINCT FROM s.client_name "
                "OR c.document_id IS DISTINCT FROM s.document_id "
                "OR c.agency_id IS DISTINCT FROM s.agency_id "
                "OR (s.phone <> '' AND c.phone IS DISTINCT FROM s.phone) "
                "OR (s.email <> '' AND c.email IS DISTINCT FROM s.email))"
            )
        cursor.execute(
            "INSERT INTO portfolio_address (client_id, guarantor_id, kind, text, lat, lon, "
            "quadrant_id, subzone_id) SELECT c.id, NULL, 'home', s.address, s.lat, s.lon, "
            "s.home_quadrant_id, s.subzone_id FROM snapshot_client s "
            "JOIN portfolio_client c ON c.code = s.client_code WHERE NOT EXISTS "
            "(SELECT 1 FROM portfolio_address a WHERE a.client_id = c.id AND a.kind = 'home' "
            "AND a.guarantor_id IS NULL)"
        )
        addresses_new = cursor.rowcount
        analyze_if_grown(cursor, "portfolio_address", addresses_new)
        if addresses_new != staged:  # every address just inserted: nothing to compare
            cursor.execute(
                "UPDATE portfolio_address AS a SET text = s.address, lat = s.lat, lon = s.lon, "
                "quadrant_id = s.home_quadrant_id, subzone_id = s.subzone_id "
                "FROM snapshot_client s JOIN portfolio_client c ON c.code = s.client_code "
                "WHERE a.client_id = c.id AND a.kind = 'home' AND a.guarantor_id IS NULL "
                "AND (s.address <> '' OR s.lat IS NOT NULL) AND ("
                "a.text IS DISTINCT FROM s.address OR a.lat IS DISTINCT FROM s.lat "
                "OR a.lon IS DISTINCT FROM s.lon "
                "OR a.quadrant_id IS DISTINCT FROM s.home_quadrant_id "
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
        indexes_restore(cursor, indexes)
        foreign_keys_restore(cursor, set_aside)
        # Absent from the snapshot: paid off or transferred; it leaves the portfolio.
        result.credits_left = stage.mark_left(cursor, business_date)
        stage.write_positions(cursor, business_date)
    return result


# The tables a bulk load writes through their foreign keys.
BULK_TABLES = ["portfolio_client", "portfolio_address", "portfolio_credit"]
# A load that brings at least this many new credits, and at least as many as there
# were, checks their foreign keys in bulk (`foreign_keys_set_aside`): a first load, or
# a lender moving its portfolio in. The tables are locked until it commits.
BULK_NEW_CREDITS = 100_000


def _bulk_load(cursor) -> bool:
    cursor.execute("SELECT count(*) FROM snapshot_typed WHERE credit_id IS NULL")
    new = cursor.fetchone()[0]
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'portfolio_credit'::regclass")
    known = max(cursor.fetchone()[0] or 0, 0)
    return new >= BULK_NEW_CREDITS and new >= known


def _quadrant_by_coordinates(cursor) -> tuple[str, list]:
    """SQL for the quadrant containing a typed row's coordinates, for a row without
    quadrant_code; without either, its agency's first subzone by code is used
    (DOMAIN.md 7.5)."""
    cursor.execute("SELECT coalesce(max(size_m), 0) FROM portfolio_quadrant")
    max_size = cursor.fetchone()[0] or 0
    if not max_size:
        return "NULL", []
    reach = max_size / 2 / METRES_PER_DEGREE
    # The longitude band too, so that the (lat, lon) index skips the rest of the
    # latitude band (every quadrant of the country at that latitude): a degree of
    # longitude shrinks by cos(latitude), at most that of the band's far edge.
    edge = f"abs(t.lat) + {reach!r}"
    widest = f"cos(radians(CASE WHEN {edge} < 89 THEN {edge} ELSE 89 END))"
    return (
        "CASE WHEN t.lat IS NOT NULL AND t.lon IS NOT NULL THEN (SELECT q.id "
        "FROM portfolio_quadrant q WHERE q.lat BETWEEN t.lat - %s AND t.lat + %s "
        f"AND q.lon BETWEEN t.lon - %s / {widest} AND t.lon + %s / {widest} "
        "AND abs(t.lat - q.lat) * %s <= q.size_m / 2.0 "
        "AND abs(t.lon - q.lon) * %s * cos(radians(q.lat)) <= q.size_m / 2.0 "
        "ORDER BY q.code LIMIT 1) END",
        [reach, reach, reach, reach, METRES_PER_DEGREE, METRES_PER_DEGREE],
    )
