"""Settings shared by every environment; everything secret or host-specific comes
from the environment (cookiecutter-django style)."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SEMAFORO_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str | None = None) -> str | None:
    """A setting from the environment, or from the file named by NAME_FILE (secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("SECRET_KEY", "insecure-dev-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in (env("ALLOWED_HOSTS", "127.0.0.1,localhost") or "").split(",") if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "simple_history",
    "axes",
    "csp",
    "portfolio",
    "strategy",
    "collections_field",
    "notifications",
    "commissions",
    "audit",
    "strategy_editor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling: five failures for a username from one address lock it for 30 minutes.
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5") or 5)
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = int(env("AXES_PROXY_COUNT", "0") or 0) or None

# Content-Security-Policy for the pages: our own origin only, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portfolio.context_processors.navigation",
            ],
        },
    },
]

# --- Database: no DATABASE_URL means the embedded SQLite database in var/.
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "semaforo.sqlite3",
            "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Language, time and money: es-PE first, English too; America/Lima.
LANGUAGE_CODE = "es-pe"
LANGUAGES = [("es-pe", _("Spanish (Peru)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Lima"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise scans it at start-up
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- Celery: Redis in production and CI; eager (in-process) when REDIS_URL is absent.
REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL


def _redis_database(url: str, number: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


# The cache holds API throttling counters and must be shared by every web process:
# CACHE_URL, else REDIS_URL's server on database 1 (the broker keeps its own).
CACHE_URL = env("CACHE_URL") or (REDIS_URL and _redis_database(REDIS_URL, 1))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_BEAT_SCHEDULE = {
    # The night: the cycle for the new business date, once core banking has
    # delivered the snapshot (the task waits for it; see collections_field.tasks).
    "nightly-cycle": {
        "task": "collections_field.tasks.nightly_cycle_task",
        "schedule": crontab(hour=2, minute=30),
    },
    # Each superior's e-mail of the escalated actions, once the night is done.
    "escalation-digest": {
        "task": "collections_field.tasks.send_escalation_digest_task",
        "schedule": crontab(hour=7, minute=0),
    },
    # The automatic messages, every few minutes of the legal window (the gate decides;
    # a run outside it only records the postponement).
    "dispatch": {
        "task": "notifications.tasks.dispatch_task",
        "schedule": crontab(minute="*/5", hour="7-19", day_of_week="mon-fri"),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portfolio.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portfolio.authentication.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["portfolio.authentication.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Semáforo API",
    "DESCRIPTION": "Collections management: core-banking integration and field work.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (no CDN; the CSP allows only 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.add_error_responses",
    ],
}

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (-12.05, -77.04),
    "DEFAULT_ZOOM": 12,
    "NO_GLOBALS": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Phones, documents and e-mails never reach a log (Ley 29733).
    "filters": {"personal_data": {"()": "config.logging.PersonalDataFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

# --- Domain settings (not part of the versioned strategy).
SEMAFORO = {
    "VISIT_RADIUS_M": int(env("SEMAFORO_VISIT_RADIUS_M", "150") or 150),
    "IMPORT_ERROR_LIMIT": 50,
    # Requests per token (or person) per minute, across every web process.
    "API_RATE": env("SEMAFORO_API_RATE", "1200/min"),
    # A tile server for the maps ({z}/{x}/{y}), e.g. the lender's own; empty: the
    # maps draw stops and addresses on a plain background (no external request).
    "MAP_TILES_URL": env("SEMAFORO_MAP_TILES_URL", "") or "",
}
if SEMAFORO["MAP_TILES_URL"]:
    _tiles = urlsplit(SEMAFORO["MAP_TILES_URL"].replace("{s}", "a"))
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"{_tiles.scheme}://{_tiles.netloc}")

# --- Automatic dispatch (notifications): gateways per channel, the legal gate's cap.
SEMAFORO_DISPATCH = {
    # A channel (sms, whatsapp, ivr, email) or "default" → a gateway class.
    "GATEWAYS": {
        "default": "notifications.gateways.ConsoleGateway",
        "sms": env("SEMAFORO_SMS_GATEWAY", "") or "",
    },
    # The console gateway appends every message here too (a spool; empty: nowhere).
    "CONSOLE_FILE": env("SEMAFORO_CONSOLE_OUTBOX", "") or "",
    # Contacts per case in a rolling number of days (Indecopi; default 7 in 7).
    "CONTACT_CAP": int(env("SEMAFORO_CONTACT_CAP", "7") or 7),
    "CONTACT_CAP_DAYS": int(env("SEMAFORO_CONTACT_CAP_DAYS", "7") or 7),
    # A message the provider certainly did not take is tried again up to this many times.
    "MAX_ATTEMPTS": 3,
    # The language messages are written in (the lender's, whoever runs dispatch).
    "LANGUAGE": env("SEMAFORO_MESSAGE_LANGUAGE", "es-pe") or "es-pe",
    # This site as the providers reach it (status callbacks; webhook signatures).
    "PUBLIC_URL": env("SEMAFORO_PUBLIC_URL", "") or "",
    "TWILIO": {
        "ACCOUNT_SID": env("TWILIO_ACCOUNT_SID", "") or "",
        "AUTH_TOKEN": env("TWILIO_AUTH_TOKEN", "") or "",
        # The secret of a webhook SharedKey, when Twilio signs with one instead.
        "WEBHOOK_SHARED_KEY": env("TWILIO_WEBHOOK_SHARED_KEY", "") or "",
        "FROM": env("TWILIO_FROM", "") or "",
        "MESSAGING_SERVICE_SID": env("TWILIO_MESSAGING_SERVICE_SID", "") or "",
        # Another API host (a regional edge, a test double); empty: api.twilio.com.
        "API_BASE_URL": env("TWILIO_API_BASE_URL", "") or "",
        "TIMEOUT": 10,
    },
}
