"""The test suite: same database choice as base (DATABASE_URL or SQLite)."""

import os

from .base import *  # noqa: F403
from .base import REDIS_URL, _redis_database, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Assertions read English messages; a test checks the es-PE pages on purpose.
LANGUAGE_CODE = "en"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Messages in the language the assertions read.
SEMAFORO_DISPATCH = {**SEMAFORO_DISPATCH, "LANGUAGE": "en"}  # noqa: F405

# pytest-xdist runs the suite in two processes (`make test`), each with its own test
# database (pytest-django) and, here, its own Redis databases for the broker, results
# and cache: a Celery worker started by one process's test never takes the other's
# tasks, and one process's cache.clear() never wipes the other's throttle counters.
# The worker subprocesses a test starts inherit PYTEST_XDIST_WORKER and land on the
# same databases.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and REDIS_URL:
    _n = int(_xdist_worker[2:])
    REDIS_URL = _redis_database(REDIS_URL, 10 + 2 * _n)
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
    if not env("CACHE_URL"):
        CACHE_URL = _redis_database(REDIS_URL, 11 + 2 * _n)
        CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": CACHE_URL,
            }
        }
