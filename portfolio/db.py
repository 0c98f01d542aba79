"""Database helpers shared by the set-based writers (the import and the engine)."""

import math

from django.db import connection


def analyze_if_grown(cursor, table: str, added: int) -> None:
    """Fresh planner statistics after a table grew by a tenth or more in this
    transaction: the next statements join it, and autovacuum comes too late."""
    if connection.vendor != "postgresql" or added <= 0:
        return
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    known = cursor.fetchone()[0]
    if known is None or known <= 0 or added > 0.1 * known:
        cursor.execute(f"ANALYZE {table}")


def foreign_keys_set_aside(cursor, tables: list[str]) -> list[tuple[str, str, str]]:
    """PostgreSQL, for a bulk load: drop the foreign keys these tables hold, to add
    them back with `foreign_keys_restore` once the rows are in. Row by row, a key is
    checked by one lookup per written row (17 s for a first load of a million
    credits); added back, it is checked by one join over the table. Inside the
    caller's transaction: a failure restores them with everything else. Call it
    before the transaction writes to these tables (a pending check blocks the drop)."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
        "ORDER BY conrelid::regclass::text, conname",
        [tables],
    )
    saved = cursor.fetchall()
    for table, name, _definition in saved:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return saved


def foreign_keys_restore(cursor, saved: list[tuple[str, str, str]]) -> None:
    for table, name, definition in saved:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def indexes_set_aside(cursor, tables: list[str]) -> list[str]:
    """PostgreSQL, for a bulk load: drop the indexes of these tables that back no
    constraint (keys and unique codes stay), returning their definitions for
    `indexes_restore`: one sort per index beats a million single inserts into it."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [tables],
    )
    saved = cursor.fetchall()
    for name, _definition in saved:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in saved]


def indexes_restore(cursor, saved: list[str]) -> None:
    for definition in saved:
        cursor.execute(definition)


def tune_bulk_session(*, serial: bool = False) -> None:
    """For the rest of the transaction, on PostgreSQL: joins and sorts of a million
    rows in memory rather than in spilled batches (the server default is 4MB), and
    no JIT, whose compile time these one-off statements never win back. `serial`: no
    parallel workers either (when other work already keeps the cores busy)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
            if serial:
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")


def ensure_sqlite_functions() -> None:
    """cos() and radians() for the point-in-quadrant lookup, whatever SQLite was built
    with."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        raw.create_function("cos", 1, math.cos, deterministic=True)
        raw.create_function("radians", 1, math.radians, deterministic=True)
