"""Drop and create the database named in DATABASE_URL (the bench's own, never the app's)."""

import os
import sys
from urllib.parse import urlparse

import psycopg2
from psycopg2 import sql


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    name = urlparse(url).path.lstrip("/")
    if not name.endswith("_bench"):
        print(f"refusing to recreate {name!r}: only a *_bench database", file=sys.stderr)
        return 2
    admin = psycopg2.connect(url.replace(f"/{name}", "/postgres"), connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"fresh database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
