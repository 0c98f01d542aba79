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
    # The open month's commissions, recomputed after the night (idempotent).
    "commissions": {
        "task": "commissions.tasks.compute_commissions_task",
        "schedule": crontab(hour=5, minute=30),
    },
    # The automatic messages, every few minutes of the legal window (the gate decides;
    # a run outside it only records the postponement).
    "dispatch": {
        "task": "notifications.tasks.dispatch_task",
        "schedule": crontab(minute="*/5", hour="7-19", day_of_week="mon-fri"),
    },
    # The day's productivity per channel (the night refreshes the last 8 days).
    "channel-figures": {
        "task": "notifications.tasks.channel_figures_task",
        "schedule": crontab(minute="*/10", hour="7-21"),
    },
    # Messages stuck in flight (a killed worker, a lost answer), at all hours.
    "settle": {
        "task": "notifications.tasks.settle_task",
        "schedule": crontab(minute="*/10"),
    },
    # msgs: the day's letters, once the night's cycle is done (repeated: agencies
    # already built are skipped), printed before the officers go out.
    "letters": {
        "task": "notifications.tasks.letters_build_task",
        "schedule": crontab(minute="0,30", hour="5-8", day_of_week="mon-fri"),
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
    # WeasyPrint narrates every step of every PDF at INFO.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
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
    # Apps above collections_field plug into it here, by dotted path (it imports none):
    # items the night's events step takes in (collections_field/engine/sources.py) ...
    "EVENT_SOURCES": ["commissions.refinancing.events.ApprovedRefinancings"],
    # ... links offered on the client page, each `hook(*, request, case) -> [links]` ...
    "CASE_PAGE_LINKS": [
        "commissions.refinancing.views.case_links",
        "notifications.pages.case_links",
    ],
    # ... panels drawn on the dashboards, each `hook(*, request, board)` returning
    # `{"template", "context"}` or None ...
    "DASHBOARD_PANELS": ["notifications.pages.productivity_panel"],
    # ... and steps the night runs after the engine's: ledger name → `step(*,
    # business_date, version) -> counts`, or {"step", "after": the steps whose writes
    # it reads} (collections_field/engine/cycle.py). The productivity reads the cases
    # as assigned, results, payments and messages: nothing the later steps write.
    "CYCLE_EXTRA_STEPS": {
        "productivity": {
            "step": "notifications.productivity.channel_figures_step",
            "after": ["assignment"],
        }
    },
    # Night steps that do not read each other's writes run side by side, each on its
    # own database connection (PostgreSQL only): as many at once as this.
    "CYCLE_SIDE_BY_SIDE": int(env("SEMAFORO_CYCLE_SIDE_BY_SIDE", "2") or 2),
}
if SEMAFORO["MAP_TILES_URL"]:
    _tiles = urlsplit(SEMAFORO["MAP_TILES_URL"].replace("{s}", "a"))
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"{_tiles.scheme}://{_tiles.netloc}")

# --- Automatic dispatch (notifications): gateways per channel, the legal gate's cap.


def _rates(value: str | None, default: dict[str, str]) -> dict[str, str]:
    """`sms=10/s,whatsapp=20/s:40` → {"sms": "10/s", "whatsapp": "20/s:40"}; unset: the
    default; an empty value: no channel throttled."""
    if value is None:
        return default
    pairs = (item.split("=", 1) for item in value.split(",") if "=" in item)
    return {channel.strip(): rate.strip() for channel, rate in pairs}


SEMAFORO_DISPATCH = {
    # A channel (sms, whatsapp, ivr, email) or "default" → a gateway class.
    "GATEWAYS": {
        "default": "notifications.gateways.ConsoleGateway",
        "sms": env("SEMAFORO_SMS_GATEWAY", "") or "",
        # msgs: WhatsApp through Twilio when set; e-mail through Django's e-mail backend.
        "whatsapp": env("SEMAFORO_WHATSAPP_GATEWAY", "") or "",
        # IVR calls through Twilio when set (notifications.gateways.TwilioVoiceGateway).
        "ivr": env("SEMAFORO_IVR_GATEWAY", "") or "",
        "email": env("SEMAFORO_EMAIL_GATEWAY", "notifications.gateways.EmailGateway") or "",
    },
    # The console gateway appends every message here too (a spool; empty: nowhere).
    "CONSOLE_FILE": env("SEMAFORO_CONSOLE_OUTBOX", "") or "",
    # Contacts per case in a rolling number of days (Indecopi; default 7 in 7).
    "CONTACT_CAP": int(env("SEMAFORO_CONTACT_CAP", "7") or 7),
    "CONTACT_CAP_DAYS": int(env("SEMAFORO_CONTACT_CAP_DAYS", "7") or 7),
    # A message the provider certainly did not take is tried again up to this many times.
    "MAX_ATTEMPTS": 3,
    # The global send rate per channel and sender (notifications/throttle.py), shared by
    # every worker through Redis: N/s, N/m or N/h, with an optional :BURST. A channel
    # without a rate is not throttled. SEMAFORO_SEND_RATES="sms=10/s,ivr=1/s" replaces
    # them (Twilio's defaults: one SMS a second per long code, more per messaging
    # service; one call a second).
    "RATES": _rates(env("SEMAFORO_SEND_RATES"), {"sms": "10/s", "whatsapp": "20/s", "ivr": "1/s"}),
    # How long a message may wait for its channel's token before it is left queued for
    # the next dispatch (seconds).
    "THROTTLE_MAX_WAIT": float(env("SEMAFORO_THROTTLE_MAX_WAIT", "2") or 2),
    # A message `sending` for longer than this (seconds) with no answer from its provider
    # is settled (notifications/settle.py): the provider is asked whether it has it.
    "SETTLE_AFTER": float(env("SEMAFORO_SETTLE_AFTER", "600") or 600),
    # The language messages are written in (the lender's, whoever runs dispatch).
    "LANGUAGE": env("SEMAFORO_MESSAGE_LANGUAGE", "es-pe") or "es-pe",
    # IVR: pressing 1 records a payment promise for this many collection days after the
    # call (weekends and holidays skipped); the voice that reads the message (Twilio <Say>).
    "IVR_PROMISE_DAYS": int(env("SEMAFORO_IVR_PROMISE_DAYS", "3") or 3),
    "IVR_VOICE": env("SEMAFORO_IVR_VOICE", "Polly.Mia") or "Polly.Mia",
    # This site as the providers reach it (status callbacks; webhook signatures).
    "PUBLIC_URL": env("SEMAFORO_PUBLIC_URL", "") or "",
    "TWILIO": {
        "ACCOUNT_SID": env("TWILIO_ACCOUNT_SID", "") or "",
        "AUTH_TOKEN": env("TWILIO_AUTH_TOKEN", "") or "",
        # The secret of a webhook SharedKey, when Twilio signs with one instead.
        "WEBHOOK_SHARED_KEY": env("TWILIO_WEBHOOK_SHARED_KEY", "") or "",
        "FROM": env("TWILIO_FROM", "") or "",
        "MESSAGING_SERVICE_SID": env("TWILIO_MESSAGING_SERVICE_SID", "") or "",
        # The WhatsApp sender (E.164, without the "whatsapp:" prefix); else FROM.
        "WHATSAPP_FROM": env("TWILIO_WHATSAPP_FROM", "") or "",
        # The number IVR calls come from (E.164, voice-capable); else FROM.
        "VOICE_FROM": env("TWILIO_VOICE_FROM", "") or "",
        # Another API host (a regional edge, a test double); empty: api.twilio.com.
        "API_BASE_URL": env("TWILIO_API_BASE_URL", "") or "",
        # Seconds to wait for Twilio's answer (connect and read).
        "TIMEOUT": float(env("TWILIO_TIMEOUT", "10") or 10),
    },
}

# --- msgs: e-mail (the e-mail gateway and the escalation digest) ----------------------
# Console by default (the demo prints them); a real deployment sets EMAIL_BACKEND and
# the SMTP settings (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost") or "localhost"
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "cobranzas@localhost") or "cobranzas@localhost"

# --- msgs: message and letter templates (notifications/templating.py) ----------------
# Words and phrases that make a text look like a court document (Ley 29571 art. 62,
# Indecopi): a template using one is refused when saved, and a letter or message
# whose text holds one is blocked (`court_wording`). Matched whole, any case, accents
# aside, also with an ending ("embargo" finds "embargos"). SEMAFORO_COURT_WORDS (comma
# separated) replaces the list.
DEFAULT_COURT_WORDS = [
    "juzgado", "juez", "jueza", "notificación judicial", "embargo", "embargar",
    "orden de captura", "demanda", "demandar", "demandado", "cobranza coactiva",
    "ejecución coactiva", "poder judicial", "proceso judicial", "mandato judicial",
    "requerimiento judicial", "resolución judicial", "fiscalía", "denuncia penal",
    "tribunal", "sentencia", "citación", "remate", "incautación", "desalojo",
    "detención", "cárcel", "prisión", "policía",
]  # fmt: skip
# Words that name the debt: a template written for anyone but the debtor or the
# guarantor may hold none of them (nor the amount or credits placeholders).
# SEMAFORO_DEBT_WORDS replaces the list.
DEFAULT_DEBT_WORDS = [
    "deuda", "adeuda", "adeudado", "deudor", "atraso", "atrasado", "atrasada", "vencido",
    "vencida", "mora", "moroso", "morosa", "morosidad", "cobranza", "cobro", "cuota",
    "saldo", "crédito", "préstamo", "impago", "pago pendiente", "monto",
]  # fmt: skip


def _words(name: str, default: list[str]) -> list[str]:
    value = env(name)
    return [w.strip() for w in value.split(",") if w.strip()] if value else default


SEMAFORO_TEMPLATES = {
    "COURT_WORDS": _words("SEMAFORO_COURT_WORDS", DEFAULT_COURT_WORDS),
    "DEBT_WORDS": _words("SEMAFORO_DEBT_WORDS", DEFAULT_DEBT_WORDS),
}
# WeasyPrint reports every layout step at INFO: only its warnings reach the logs.
LOGGING["loggers"] = {
    **LOGGING.get("loggers", {}),
    "weasyprint": {"level": "WARNING"},
    "fontTools": {"level": "WARNING"},
}
