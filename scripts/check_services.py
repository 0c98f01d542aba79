"""Fail fast, with a clear message, when CI's PostgreSQL or Redis is unreachable.

Creates the database named in DATABASE_URL when the server is up but it is missing.
"""

import os
import sys
from urllib.parse import urlparse

import psycopg2
import redis
from psycopg2 import sql


def main() -> int:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        print("DATABASE_URL and REDIS_URL must both be set", file=sys.stderr)
        return 2
    url = urlparse(database_url)
    name = url.path.lstrip("/")
    try:
        admin = psycopg2.connect(database_url.replace(url.path, "/postgres"), connect_timeout=5)
    except psycopg2.OperationalError as exc:
        print(f"PostgreSQL unreachable at {url.hostname}:{url.port}: {exc}", file=sys.stderr)
        return 1
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        print(f"Redis unreachable at {redis_url}: {exc}", file=sys.stderr)
        return 1
    print(f"PostgreSQL database {name!r} and Redis are reachable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
