"""The test suite: same database choice as base (DATABASE_URL or SQLite)."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Assertions read English messages; a test checks the es-PE pages on purpose.
LANGUAGE_CODE = "en"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Messages in the language the assertions read.
SEMAFORO_DISPATCH = {**SEMAFORO_DISPATCH, "LANGUAGE": "en"}  # noqa: F405
