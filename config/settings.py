"""Settings, read from the environment.

The defaults serve a laptop with nothing installed but Python: SQLite, files on local disk,
e-mails written to .eml files in var/mail/ and a Celery broker kept in a folder. Production
sets the variables listed in the README.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.beat import AppsBeatSchedule
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)

# Only good for a laptop: with DEBUG off, start-up refuses it (below).
INSECURE_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", INSECURE_SECRET_KEY)
if not DEBUG and (not SECRET_KEY or SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing or is the development default. With DEBUG off, set SECRET_KEY "
        "to a random string of at least 50 characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",
    "django_htmx",
    "csp",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "organizations",
    "profiles",
    "imports",
    "dossiers",
    "monitoring",
    "outbox",
    "api",
    "home",
    "operations",
]

MIDDLEWARE = [
    # First: every line logged while the request runs carries its id, and its time is counted
    # whole (operations.metrics: latency by view).
    "config.requestid.RequestIdMiddleware",
    "operations.metrics.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "organizations.security.SecurityHeadersMiddleware",
    # After authentication (the limit depends on who asks), before anything reads the body.
    "organizations.security.RequestBodyLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "organizations.middleware.TenantMiddleware",
    "profiles.middleware.StorageUnavailableMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with its own page.
    "axes.middleware.AxesMiddleware",
]

FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "organizations.context_processors.tenant",
            ],
        },
    },
]

# Database: SQLite in a file unless DATABASE_URL names another (PostgreSQL in production).
_sqlite_path = VAR_DIR / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{_sqlite_path}"),
        # Persistent connections (health-checked): a new PostgreSQL connection per request
        # costs more than most of our pages.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share the file: WAL lets readers run beside the
    # writer, and IMMEDIATE transactions wait for the lock instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# Read replicas (optional, PostgreSQL streaming replicas of DATABASE_URL): a few pages' reads
# go to them through config.routers, which docs/SCALING.md describes. Unset, nothing changes.
DATABASE_REPLICAS: list[str] = []
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    _alias = f"replica_{_number}"
    DATABASES[_alias] = dj_database_url.parse(
        _url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
    )
    if DATABASES[_alias]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS: replica {_number} is not the same kind of database as "
            "DATABASE_URL."
        )
    # Tests create no database for a replica: its alias reads the primary's test database.
    DATABASES[_alias]["TEST"] = {"MIRROR": "default"}
    DATABASE_REPLICAS.append(_alias)
# How long a browser reads the primary after a request of its wrote: the replicas' worst lag.
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 5)
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "config.routers.ReplicaMiddleware",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts failed logins per (user name, client address) and refuses more for a
# while; the standalone backend only checks, ModelBackend authenticates.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Passkeys sign in without a password (organizations/passkeys.py checks django-axes first).
    "django_otp_webauthn.backends.WebAuthnBackend",
    # Single sign-on (organizations.sso): the member an organisation's provider vouched for.
    "organizations.sso.SsoBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# Per user name and address: a guesser is stopped without letting anyone lock a colleague
# out from elsewhere by typing wrong passwords for their name.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "organizations.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Password-reset requests per client address and per e-mail address, each per hour.
PASSWORD_RESET_LIMIT_PER_ADDRESS = env_int("PASSWORD_RESET_LIMIT_PER_ADDRESS", 10)
PASSWORD_RESET_LIMIT_PER_EMAIL = 3
# The optional second factor: TOTP codes from an authenticator app (django-otp).
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "Back office")
# Passkeys (WebAuthn, django-otp-webauthn): a second factor beside TOTP, and a sign-in of
# their own. A passkey belongs to one domain, the relying party's ID, which browsers refuse to
# be an IP address: on a laptop, open http://localhost:8000. Changing the ID later orphans
# every passkey registered under the old one.
_site = urlsplit(SITE_URL)
_site_host = _site.hostname or "localhost"
try:
    ipaddress.ip_address(_site_host)
    _passkey_host = "localhost"
except ValueError:
    _passkey_host = _site_host
_site_port = f":{_site.port}" if _site.port else ""
OTP_WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", _passkey_host)
OTP_WEBAUTHN_RP_NAME = env_str("WEBAUTHN_RP_NAME", OTP_TOTP_ISSUER)
# The pages' origins (scheme, host and port) a passkey ceremony may come from.
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list(
    "WEBAUTHN_ORIGINS", [f"{_site.scheme}://{_passkey_host}{_site_port}"]
)
# Its own views are not mounted: organizations/passkeys.py wraps them in the sign-in flow.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = True
# Sign-ins by passkey begun per client address and hour (each keeps a challenge in a session).
PASSKEY_SIGN_IN_LIMIT_PER_ADDRESS = env_int("PASSKEY_SIGN_IN_LIMIT_PER_ADDRESS", 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: French and English, chosen by the user (cookie) or the browser.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# Static files, served by whitenoise in every environment.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Documents never get a public URL: they are read through a view that checks the tenant.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config as BotoConfig

    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "location": env_str("AWS_LOCATION"),
            # A storage endpoint that hangs must not hang a request: bounded waits, a few
            # retries, then an error the views turn into a clear page.
            "client_config": BotoConfig(
                connect_timeout=env_int("AWS_S3_CONNECT_TIMEOUT", 5),
                read_timeout=env_int("AWS_S3_READ_TIMEOUT", 20),
                retries={"mode": "standard", "max_attempts": env_int("AWS_S3_MAX_ATTEMPTS", 3)},
            ),
            # Encryption at rest by the S3 server: "AES256", or "aws:kms" with a key id.
            "object_parameters": {
                name: value
                for name, value in (
                    ("ServerSideEncryption", env_str("AWS_S3_SERVER_SIDE_ENCRYPTION")),
                    ("SSEKMSKeyId", env_str("AWS_S3_SSE_KMS_KEY_ID")),
                )
                if value
            },
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Keys per S3 DeleteObjects request: 1,000 is the most S3 takes in one.
S3_DELETE_BATCH_SIZE = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The largest request body, uploads included, from a logged-in user or a client on the portal;
# anonymous requests elsewhere get 256 KB. Over it: a 413 page, the body unread.
REQUEST_BODY_LIMIT_MB = env_int("REQUEST_BODY_LIMIT_MB", 100)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# An import's dry run: a file up to this size is tried while the person waits, a larger
# one as a task whose page follows the rows checked (about 2,000 rows of ten columns).
IMPORT_TRY_INLINE_KB = env_int("IMPORT_TRY_INLINE_KB", 256)
IMPORT_TRY_INLINE_BYTES = IMPORT_TRY_INLINE_KB * 1024

# E-mail: written to files in development unless an SMTP host is given.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 15)
else:
    # Development: one .eml file per message in var/mail/, announced in the log.
    EMAIL_BACKEND = "config.mail.EmlFileBackend"
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Back office <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# An e-mail service instead (django-anymail): EMAIL_SERVICE names it, and it reports
# deliveries, bounces and complaints to /email/events/<service>/ (outbox/webhooks.py). Plain
# SMTP and the development files above stay as they are when it is empty.
EMAIL_SERVICES = {
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "postmark": "anymail.backends.postmark.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
}
EMAIL_SERVICE = env_str("EMAIL_SERVICE").strip().lower()
if EMAIL_SERVICE and EMAIL_SERVICE not in EMAIL_SERVICES:
    raise ImproperlyConfigured(
        f"EMAIL_SERVICE: {EMAIL_SERVICE!r} is not one of {', '.join(sorted(EMAIL_SERVICES))}."
    )
# "user:password" that the service puts in the webhook's address (basic authentication);
# Mailgun signs its events with EMAIL_WEBHOOK_SIGNING_KEY as well, SendGrid with the public
# key EMAIL_WEBHOOK_VERIFICATION_KEY.
EMAIL_WEBHOOK_SECRET = env_str("EMAIL_WEBHOOK_SECRET")
if EMAIL_SERVICE and not EMAIL_WEBHOOK_SECRET:
    raise ImproperlyConfigured(
        "EMAIL_WEBHOOK_SECRET is missing: with an EMAIL_SERVICE, set it to a random "
        "'user:password' and give the service https://user:password@<host>/email/events/"
        f"{EMAIL_SERVICE}/ as its webhook (docs/EMAIL.md)."
    )
ANYMAIL = {
    "WEBHOOK_SECRET": EMAIL_WEBHOOK_SECRET,
    "POSTMARK_SERVER_TOKEN": env_str("EMAIL_SERVICE_API_KEY"),
    "MAILGUN_API_KEY": env_str("EMAIL_SERVICE_API_KEY"),
    "MAILGUN_SENDER_DOMAIN": env_str("EMAIL_SERVICE_DOMAIN"),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("EMAIL_WEBHOOK_SIGNING_KEY"),
    "SENDGRID_API_KEY": env_str("EMAIL_SERVICE_API_KEY"),
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": env_str("EMAIL_WEBHOOK_VERIFICATION_KEY"),
    "BREVO_API_KEY": env_str("EMAIL_SERVICE_API_KEY"),
    # Amazon SES takes its keys from boto3's own variables (AWS_ACCESS_KEY_ID, …).
    "AMAZON_SES_CLIENT_PARAMS": (
        {"region_name": env_str("EMAIL_SERVICE_REGION")} if env_str("EMAIL_SERVICE_REGION") else {}
    ),
}
if env_str("EMAIL_SERVICE_API_URL"):
    # Mailgun's EU region, Postmark's or Brevo's own address: the service's documented URL.
    ANYMAIL[f"{EMAIL_SERVICE.upper()}_API_URL"] = env_str("EMAIL_SERVICE_API_URL")
if EMAIL_SERVICE == "mailgun" and not ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"]:
    raise ImproperlyConfigured(
        "EMAIL_WEBHOOK_SIGNING_KEY is missing: Mailgun signs its events with the key shown "
        "under Sending > Webhooks > HTTP webhook signing key."
    )
if EMAIL_SERVICE:
    EMAIL_BACKEND = EMAIL_SERVICES[EMAIL_SERVICE]

# Cache: per process unless CACHE_URL names a shared one (Redis), which production needs so
# that the portal's rate limit holds across web workers.
CACHE_URL = env_str("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions read from the shared cache, written through to the database: one query fewer on
# every signed-in page. Never with a per-process cache, where a session ended in one worker
# (a log-out, a password change) would live on in the others' copies.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHE_URL
    else "django.contrib.sessions.backends.db"
)

# Celery: a broker kept in folders unless CELERY_BROKER_URL names one (Redis in production).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The folder transport ignores the host, but kombu warns on every start without one.
    CELERY_BROKER_URL = "filesystem://localhost//"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task of a worker killed outright comes back to the queue after this many seconds
    # (late acknowledgement); it must exceed the longest task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The fixed entries are declared by their apps (an AppConfig.beat_schedule hook) and gathered
# by config/celery.py; django-celery-beat copies them into its tables when beat starts.
# Schedules of update groups are rows of their own, never periodic tasks.
CELERY_BEAT_SCHEDULE = AppsBeatSchedule()
DISPATCH_INTERVAL_SECONDS = env_int("DISPATCH_INTERVAL_SECONDS", 60)

# The outbox: every outgoing e-mail is a row, drained in batches over one SMTP connection.
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 60)
# How long one drain keeps claiming batches before it leaves the rest to the next.
OUTBOX_DRAIN_SECONDS = env_int("OUTBOX_DRAIN_SECONDS", 50)
# A claimed message not marked within this time (its worker died) is claimed again.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 600)
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 60)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 6 * 3600)
# Temporary failures (4xx, server down) before a message is shown as undeliverable.
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 12)
# Days a message no other app holds (a password reset, a staff notice) is kept once done,
# before the outbox's daily retention sweep deletes it (outbox/retention.py).
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 90)
# The invitations of update requests wait this long after their dossiers open, so that a
# recipient's requests of the day (several groups' runs) go out as one e-mail (dossiers.daily).
DOSSIERS_DAILY_SETTLE_SECONDS = env_int("DOSSIERS_DAILY_SETTLE_SECONDS", 300)
# A run not finished this long after it was recorded is enqueued again by the sweep.
RUN_SWEEP_AFTER_SECONDS = env_int("RUN_SWEEP_AFTER_SECONDS", 900)

# The proxies in front of gunicorn (addresses or networks): only from them is the client's
# address taken from X-Forwarded-For, for rate limits and the audit log.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network."
        ) from None

# Security: strict in production, where TLS ends at the proxy in front of gunicorn.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12) * 3600
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"
)
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy: every script is a file of ours; no inline script, no other origin.
# Profiles per chunk when a run opens its dossiers: the memory and the length of a transaction.
MONITORING_CHUNK_SIZE = env_int("MONITORING_CHUNK_SIZE", 2000)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
CSRF_FAILURE_VIEW = "organizations.views.csrf_failure"

# Webhooks may not reach private or loopback addresses in production (a server-side request
# forgery guard); on a laptop and in tests they may.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", DEBUG)
# The same guard for the OpenID Connect providers organisations name (organizations.sso),
# which must also be https in production.
SSO_ALLOW_PRIVATE_ADDRESSES = env_bool("SSO_ALLOW_PRIVATE_ADDRESSES", DEBUG)
# A webhook delivery's body holds personal values (old and new): it is deleted this many days
# after it was delivered or given up (api.retention, swept daily).
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 30)

# The REST API (/api/v1/): organisation keys, one error shape, cursor pages, a rate per key.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.KeyAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.KeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.NewestFirst",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Back office API",
    "DESCRIPTION": (
        "Profiles, their values, data fields, update groups and their runs, dossiers and "
        "documents of one organisation, reached with one of its API keys "
        "(Settings > API) sent as `Authorization: Bearer <key>`. Errors have one shape: "
        "`{type, errors: [{code, detail, attr}]}`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The error shapes' enums, named once (drf-standardized-errors).
    "ENUM_NAME_OVERRIDES": {
        name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
        for name in [
            "ValidationErrorEnum",
            "ClientErrorEnum",
            "ServerErrorEnum",
            *(f"ErrorCode{code}Enum" for code in (401, 403, 404, 405, 406, 415, 429, 500)),
        ]
    }
    | {
        "ProfileKindEnum": "profiles.models.Kind",
        "DossierKindEnum": "dossiers.models.Dossier.Kind",
        "DossierStatusEnum": "dossiers.models.Dossier.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        "api.schema.index_patterns",
    ],
}

# Operators: /readyz checks the database, the broker and storage, each within this time;
# /metrics answers a Bearer token (METRICS_TOKEN) or the addresses of METRICS_NETWORKS
# (client addresses as TRUSTED_PROXIES reads them), and nobody when neither is set.
READINESS_TIMEOUT_SECONDS = env_int("READINESS_TIMEOUT_SECONDS", 2)
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_NETWORKS = env_list("METRICS_NETWORKS")
for _network in METRICS_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_NETWORKS: {_network!r} is not an IP address or network."
        ) from None
# Probes come over plain http from inside the network, before any TLS proxy.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]

# Logs: plain lines by default, one JSON object per line with LOG_FORMAT=json; both carry
# the request id (config.requestid) into the record.
LOG_FORMAT = env_str("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT: {LOG_FORMAT!r} is neither 'text' nor 'json'.")
# Celery's worker replaces the root logger's handlers with its own unless told not to: in
# JSON, its lines and the tasks' go through the handler below like everyone else's.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line passes the mask: link tokens never reach the logs ("Gone: /d/***").
    "filters": {
        "mask_tokens": {"()": "organizations.logmask.MaskTokens"},
        "client_errors": {"()": "config.logfilters.ClientErrorsWithoutTraceback"},
        "request_id": {"()": "config.requestid.RequestIdFilter"},
    },
    "formatters": {"json": {"()": "config.logfilters.JsonLines"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_tokens", "client_errors", "request_id"],
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # django-axes narrates every attempt at INFO; its lock-outs are warnings.
        "axes": {"level": "WARNING"},
        # Django's own console handler would print each of its lines a second time beside
        # the root's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
