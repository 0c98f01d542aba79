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


def tune_bulk_session() -> None:
    """For the rest of the transaction, on PostgreSQL: joins and sorts of a million
    rows in memory rather than in spilled batches (the server default is 4MB), and
    no JIT, whose compile time these one-off statements never win back."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")


def ensure_sqlite_functions() -> None:
    """cos() and radians() for the point-in-quadrant lookup, whatever SQLite was built with."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        raw.create_function("cos", 1, math.cos, deterministic=True)
        raw.create_function("radians", 1, math.radians, deterministic=True)
