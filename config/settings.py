"""Huddle's settings: the one place that reads the environment (see CONTRACT.md section 1).

Nothing set gives the embedded default (SQLite, in-memory channel layer, eager Celery, local
memory cache) so a newcomer needs no server. DATABASE_URL and REDIS_URL switch to PostgreSQL and
Redis; with REDIS_URL the channel layer, Celery and the cache share one Redis database, kept
apart by key prefix.
"""

import json
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
# Old keys still accepted for sessions, password-reset links and signed values while they expire
# after a rotation (docs/RUNBOOK.md: rotating SECRET_KEY); comma-separated.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-key-only-for-debug-mode-3f9a1c7e"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "core",
    "accounts",
    "messaging",
    "coins",
    "store",
    "redpackets",
    "demo",
    "dashboard",
]

MIDDLEWARE = [
    # First: the request id is bound before anything logs, and every answer is counted.
    "core.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise, async-capable too (core.middleware; docs/PERFORMANCE.md).
    "core.middleware.StaticFilesMiddleware",
    "core.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (it reads the language chosen with set_language), before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, with the site-wide policy built once (core.middleware).
    "core.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# CONN_MAX_AGE stays 0: under ASGI every sync call runs on its own thread and persistent
# connections leak; PostgreSQL uses psycopg's pool instead (PITFALLS: Database and async).
# The embedded default: a SQLite file in the project root.
EMBEDDED_DATABASE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": BASE_DIR / "db.sqlite3",
    # IMMEDIATE + WAL + a timeout: daphne and eager Celery write from several threads.
    # synchronous=FULL: in WAL mode NORMAL may lose the last commits on power loss, and
    # an acknowledged write (a webhook answered 200) must survive it.
    "OPTIONS": {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    },
}
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        pool_max = env.int("DATABASE_POOL_MAX_SIZE", default=10)
        if pool_max > 0:
            DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
                "min_size": 0,
                "max_size": pool_max,
                "timeout": env.float("DATABASE_POOL_TIMEOUT", default=30.0),
            }
        # Parameters sent apart from the SQL text and bound by PostgreSQL, rather than quoted into
        # it by psycopg in Python: about a fifth less CPU per coin transfer in-process
        # (docs/PERFORMANCE.md). Django's statements are not prepared; the ledger's posting call
        # is (coins.ledger._call_post). DATABASE_SERVER_SIDE_BINDING=0 binds on the client and
        # prepares nothing, for a pooler in transaction mode (prepared statements live on one
        # server session).
        if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
            DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
else:
    DATABASES = {"default": {**EMBEDDED_DATABASE}}  # a copy: Django fills in defaults
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery --------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="huddle")
if env.str("PYTEST_XDIST_WORKER", default=""):
    # Each pytest-xdist worker gets its own Redis key space (never FLUSHDB a shared database).
    REDIS_KEY_PREFIX = f"{REDIS_KEY_PREFIX}-{env.str('PYTEST_XDIST_WORKER')}"

if REDIS_URL:
    # The channel layer may be sharded over several Redis hosts (channels-redis hashes each channel
    # and group name to one of them): docs/SCALING.md. Default: REDIS_URL alone.
    CHANNEL_LAYER_REDIS_URLS = env.list("CHANNEL_LAYER_REDIS_URLS", default=[REDIS_URL])
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' pub/sub layer with a lighter inbox per socket (core.channel_layer).
            "BACKEND": "core.channel_layer.PubSubChannelLayer",
            "CONFIG": {
                # socket_timeout above the layer's 5 s blocking read, and a pool larger than the
                # default 100 (PITFALLS: channels-redis).
                "hosts": [
                    {"address": url, "socket_timeout": 30, "max_connections": 1000}
                    for url in CHANNEL_LAYER_REDIS_URLS
                ],
                "prefix": f"{REDIS_KEY_PREFIX}:ws",
            },
        }
    }
    CACHES = {
        "default": {
            # django-redis that answers from each process's memory while Redis is down (degraded
            # mode, CONTRACT section 1); short timeouts so a Redis that hangs is found out quickly.
            "BACKEND": "core.degraded.FailoverRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 5,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
    # An unacknowledged task of a killed worker comes back after this (PITFALLS: Celery).
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
}
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {
        "task": "core.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    # Receipts whose dispatch after commit met a broker outage (coins.receipts).
    "sweep-receipts": {
        "task": "coins.tasks.sweep_receipts",
        "schedule": timedelta(minutes=10),
    },
    "reconcile-ledger-nightly": {
        "task": "coins.tasks.reconcile_ledger",
        "schedule": crontab(hour=3, minute=30),
    },
    # VIP auto-renewal: charges each due membership once per period (store.tasks).
    "renew-memberships": {
        "task": "store.tasks.renew_memberships",
        "schedule": timedelta(minutes=15),
    },
    # Red packets 24 hours old give what is left back to their sender, once (redpackets.tasks).
    "expire-red-packets": {
        "task": "redpackets.tasks.expire_red_packets",
        "schedule": timedelta(minutes=5),
    },
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Logging in ignores the username's case: see HuddleUserManager.get_by_natural_key.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed logins (CONTRACT section 2): per account and per client address, within one window.
LOGIN_FAILURE_LIMIT_PER_ACCOUNT = env.int("LOGIN_FAILURE_LIMIT_PER_ACCOUNT", default=5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=50)
LOGIN_FAILURE_WINDOW = timedelta(seconds=env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60))
# Number of reverse proxies in front of the app that append to X-Forwarded-For; 0 trusts none
# and uses the socket's address (one trusted proxy too many would let anyone pick their address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Rate limits: on by default, never refusing a well-behaved client (CONTRACT section 2) --------
# Per user unless said otherwise; names are what RATE_LIMITS overrides.
RATE_LIMITS = {
    "register": "300/hour",  # sign-ups per client address (API and website)
    "messages": "30/second",  # sends, edits and recalls (HTTP and socket)
    "money": "30/second",  # money-moving requests
    "actions": "30/second",  # other writes and searches: read markers, presence, profile, sync, search
    "typing": "60/second",  # typing frames
}
RATE_LIMITS.update(json.loads(env.str("RATE_LIMITS", default="{}")))

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its authenticate_header makes a missing login 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.DeviceTokenAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.HuddleJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Huddle API",
    "DESCRIPTION": (
        "Huddle's HTTP API. Authenticate with `Authorization: Token <key>` (from `auth/token` or "
        "`auth/register`) or the browser session. Every error is `{code, detail}` (validation "
        "errors add `fields`). Money-moving POSTs need an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "PresenceEnum": "accounts.models.Presence",
        "MembershipRoleEnum": "messaging.models.Membership.Role",
    },
    "PREPROCESSING_HOOKS": ["core.openapi.drop_trailing_slash_duplicates"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "coins.payments.openapi.document_webhooks",
        "core.openapi.document_common_errors",
    ],
}

# --- Internationalisation, static and media files ------------------------------------------------
# English and Simplified Chinese: LocaleMiddleware picks one from the language cookie set by
# set_language (/i18n/setlang/) or Accept-Language (zh-CN and zh-Hans both mean zh-hans).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Only needed for `collectstatic` (optional: WhiteNoise serves from the apps with USE_FINDERS).
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
# The ASGI app serves its own static files in every mode, straight from the apps' folders
# (no collectstatic step needed to run).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
AVATAR_MAX_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Mail -----------------------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Huddle <noreply@huddle.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# ADMINS: "Name <a@example.com>, b@example.com"
ADMINS = [parseaddr(a) for a in env.list("ADMINS", default=[]) if a.strip()]

# --- Security -------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and container health checks ask over plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        # 'self' covers this site's own ws:/wss: socket; a bare ws:/wss: would let an injected
        # script reach any WebSocket host.
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Operations -----------------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One JSON object per line with the request id (core.observability), or plain text.
    "formatters": {"structured": {"()": "core.observability.log_formatter", "kind": LOG_FORMAT}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"handlers": ["console", "mail_admins"], "level": "ERROR", "propagate": False},
        "huddle": {"handlers": ["console", "mail_admins"], "level": "INFO", "propagate": False},
        # Reconciliation logs every finding as an error and mails the admins one summary itself
        # (coins.reconciliation): no mail per finding.
        "huddle.ledger": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Coins --------------------------------------------------------------------------------------
# Busy system accounts are split into this many rows so postings do not queue on one row lock.
LEDGER_SYSTEM_ACCOUNT_SHARDS = env.int("LEDGER_SYSTEM_ACCOUNT_SHARDS", default=8)
MAX_TRANSFER_COINS = 1_000_000
# The sandbox payment provider hands out coins without real money (CONTRACT section 1). Its HMAC
# secret defaults to "sandbox" with DEBUG on. With DEBUG off it is on only when PAYMENTS_SANDBOX=on
# *and* the secret are both set (a real secret alone never switches it on), and then the system
# check coins.W001 and a WARNING logged at startup say so (coins.checks).
PAYMENTS_SANDBOX_SECRET = env.str("PAYMENTS_SANDBOX_SECRET", default="sandbox" if DEBUG else "")
PAYMENTS_SANDBOX = env.bool("PAYMENTS_SANDBOX", default=DEBUG)
