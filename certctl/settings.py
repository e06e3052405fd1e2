"""certctl settings: the one place where the environment is read (12-factor).

Every variable is documented in docs/configuration.md. Code reads `settings.X`, never `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from certctl.kernel.env import Environment, generated_secret, read_env_file, reference_settings
from certctl.logging_config import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CERTCTL_DATA_DIR", "").strip() or BASE_DIR / "data")

# `make run` records the variables it chose in the data dir, so `manage.py` and `certctl-manage` run against the
# same database, keys and channels without exporting anything; a variable set in the real environment wins.
# A deployment configured with its own secret key never reads it: a `make run` left behind in a checkout must not
# turn on debug or the demo receiver for the server installed from it.
RUN_ENV_FILE = DATA_DIR / "run.env"
RUN_ENV_READ = "CERTCTL_SECRET_KEY" not in os.environ
env = Environment({**(read_env_file(RUN_ENV_FILE) if RUN_ENV_READ else {}), **os.environ})
globals().update(reference_settings(env))  # Go names: AUTH_TYPE, API_KEYS_NAMED, WEBHOOK_SIGNATURE


# --- Core -----------------------------------------------------------------------------------------------
DEBUG = env.flag("CERTCTL_DEBUG", False)

SECRET_KEY = env.text("CERTCTL_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "CERTCTL_SECRET_KEY is required when CERTCTL_DEBUG is off (set CERTCTL_DEBUG=true for development)"
        )
    SECRET_KEY = generated_secret(DATA_DIR / "secret_key")

# Key for secrets at rest (issuer credentials, CA private keys); comma list, first encrypts, all decrypt.
ENCRYPTION_KEYS = env.items("CERTCTL_ENCRYPTION_KEY")
if not ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("CERTCTL_ENCRYPTION_KEY is required when CERTCTL_DEBUG is off")
    ENCRYPTION_KEYS = [generated_secret(DATA_DIR / "encryption_key", 32)]

ALLOWED_HOSTS = env.items("CERTCTL_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env.items("CERTCTL_CSRF_TRUSTED_ORIGINS")
TIME_ZONE = env.text("CERTCTL_TIME_ZONE", "UTC")
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-us"
PUBLIC_URL = env.url("CERTCTL_PUBLIC_URL", "http://127.0.0.1:8000", ("http", "https"), plain=True).rstrip("/")
# Password `manage.py prepare_run` (make run) gives the admin user; empty = generate one and print it.
ADMIN_PASSWORD = env.text("CERTCTL_ADMIN_PASSWORD")
VERSION = "0.1.0"

INSTALLED_APPS = [
    "certctl.console.apps.ConsoleAdminConfig",  # django.contrib.admin with the console as its site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "axes",
    "certctl",
    "audit",
    "certificates",
    "notifications",
]

MIDDLEWARE = [
    "certctl.middleware.RequestIDMiddleware",
    # Before the Host check: a CA fetches HTTP-01 answers with the certificate's name as Host.
    "certificates.issuance.middleware.AcmeChallengeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "certctl.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "certctl.middleware.StaffTeamsMiddleware",  # staff bound to teams see those teams' rows in the admin
    "audit.middleware.ApiAuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "certctl.middleware.JSONErrorMiddleware",
    "axes.middleware.AxesMiddleware",  # a locked-out admin login gets the lockout page
]

ROOT_URLCONF = "certctl.urls"
WSGI_APPLICATION = "certctl.wsgi.application"
ASGI_APPLICATION = "certctl.asgi.application"
APPEND_SLASH = False

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
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = env.url(
    "DATABASE_URL", f"sqlite:///{DATA_DIR / 'certctl.sqlite3'}", ("postgres", "postgresql", "pgsql", "sqlite")
)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env.integer("CERTCTL_DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL + a busy timeout let the web server, worker and beat share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if IS_POSTGRES:
    # An unreachable database must fail fast (and /ready answer 503) instead of hanging on connect.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.integer("CERTCTL_DB_CONNECT_TIMEOUT", 5, minimum=1)
    )
# Hot writes (issuance) are prepared once per connection (certctl.kernel.rows). Turn off behind a pooler that cannot
# keep protocol-level prepared statements (PgBouncer < 1.21 in transaction mode).
DB_PREPARED_STATEMENTS = env.flag("CERTCTL_DB_PREPARED_STATEMENTS", True)
if IS_POSTGRES and DB_PREPARED_STATEMENTS:
    # psycopg prepares nothing while the threshold is None (Django's default). Django's own cursors bind
    # client-side and never prepare; a threshold nothing reaches leaves only certctl.kernel.rows' explicit prepare=True.
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)

# --- Static files ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (check --deploy clean when CERTCTL_DEBUG is off) ------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Self-only (certctl.middleware.ContentSecurityPolicyMiddleware); empty = no header.
CONTENT_SECURITY_POLICY = env.text(
    "CERTCTL_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.flag("CERTCTL_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.flag("CERTCTL_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^(health|ready|metrics)$", r"^\.well-known/(pki|acme-challenge)/"]
SECURE_HSTS_SECONDS = env.integer("CERTCTL_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.flag("CERTCTL_HSTS_PRELOAD", not DEBUG)
if env.flag("CERTCTL_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.integer("CERTCTL_MAX_BODY_SIZE", 1048576, minimum=1024)
AUTHENTICATION_BACKENDS = [
    "certctl.api.throttling.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # admin login lockout per user name, and per address
AXES_FAILURE_LIMIT = env.integer("CERTCTL_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = env.seconds("CERTCTL_LOGIN_LOCKOUT", "15m", minimum=1) / 3600  # hours
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "certctl.api.throttling.client_address"
AXES_ENABLE_ADMIN, AXES_DISABLE_ACCESS_LOG = False, True  # lockouts: manage.py axes_list_attempts, axes_reset
AUTH_FAILURE_LIMIT = env.text("CERTCTL_AUTH_FAILURE_LIMIT", "30/min")  # failed API logins per address

# --- REST API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "certctl.api.authentication.APIKeyAuthentication",
        "certctl.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["certctl.api.permissions.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "certctl.api.pagination.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["certctl.api.teams.TeamScopedFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "certctl.api.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "certctl.api.errors.exception_handler",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["certctl.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": env.text("CERTCTL_RATE_LIMIT", "6000/min")},
}
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 500

SPECTACULAR_SETTINGS = {
    "TITLE": "certctl API",
    "DESCRIPTION": "Certificate lifecycle control plane. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Compliance rule types appear as a rule's `type` and a violation's `rule_type`: one named enum.
    "ENUM_NAME_OVERRIDES": {"ComplianceRuleTypeEnum": "certificates.compliance.models.RuleType"},
    "PREPROCESSING_HOOKS": ["certctl.api.schema.strip_optional_slash"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "certctl.api.schema.add_error_responses",
        "certctl.api.schema.operator_schemes_first",
    ],
}

# --- Redis: the Celery broker, and the cache the API and OCSP throttles count in across processes --------
REDIS_URL = env.url("REDIS_URL", "", ("redis", "rediss", "unix"))
_CACHES = "django.core.cache.backends."
CACHES = {"default": {"BACKEND": _CACHES + "redis.RedisCache", "LOCATION": REDIS_URL}}
if not REDIS_URL:  # `make run`: gunicorn's workers share files, never a local-memory cache
    CACHES["default"] = {"BACKEND": _CACHES + "filebased.FileBasedCache", "LOCATION": str(DATA_DIR / "cache")}
    CACHES["default"]["OPTIONS"] = {"MAX_ENTRIES": 100_000}  # Django's 300 would cull live counts
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    for sub in ("queue", "processed"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # kombu's default is ./control, wherever the process runs
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.flag("CERTCTL_CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Periodic task intervals (seconds); registered by a post-migrate hook (certctl/schedules.py).
HEARTBEAT_INTERVAL = env.seconds("CERTCTL_HEARTBEAT_INTERVAL", "30s", minimum=1)
RENEWAL_CHECK_INTERVAL = env.seconds("CERTCTL_RENEWAL_CHECK_INTERVAL", "1h", minimum=60)
NOTIFICATION_PROCESS_INTERVAL = env.seconds("CERTCTL_NOTIFICATION_PROCESS_INTERVAL", "1m", minimum=1)
NOTIFICATION_RETRY_INTERVAL = env.seconds("CERTCTL_NOTIFICATION_RETRY_INTERVAL", "2m", minimum=1)
# Quiet hours release, escalation and daily digests (docs/expiry-alerts.md and docs/escalation.md).
NOTIFICATION_DEFERRED_INTERVAL = env.seconds("CERTCTL_NOTIFICATION_DEFERRED_INTERVAL", "1m", minimum=1)
NOTIFICATION_ESCALATION_INTERVAL = env.seconds("CERTCTL_NOTIFICATION_ESCALATION_INTERVAL", "1m", minimum=1)
NOTIFICATION_DIGEST_INTERVAL = env.seconds("CERTCTL_NOTIFICATION_DIGEST_INTERVAL", "5m", minimum=1)
JOB_PROCESSOR_INTERVAL = env.seconds("CERTCTL_JOB_PROCESSOR_INTERVAL", "30s", minimum=1)
JOB_RETRY_INTERVAL = env.seconds("CERTCTL_JOB_RETRY_INTERVAL", "5m", minimum=1)
JOB_TIMEOUT_INTERVAL = env.seconds("CERTCTL_JOB_TIMEOUT_INTERVAL", "10m", minimum=1)
JOB_AWAITING_CSR_TIMEOUT = env.seconds("CERTCTL_JOB_AWAITING_CSR_TIMEOUT", "24h", minimum=60)
JOB_AWAITING_APPROVAL_TIMEOUT = env.seconds("CERTCTL_JOB_AWAITING_APPROVAL_TIMEOUT", "168h", minimum=60)
JOB_RUNNING_LEASE = env.seconds("CERTCTL_JOB_RUNNING_LEASE", "10m", minimum=60)
JOB_PROCESSOR_BATCH_SIZE = env.integer("CERTCTL_JOB_PROCESSOR_BATCH_SIZE", 25, minimum=1, maximum=1000)
CRL_INTERVAL = env.seconds("CERTCTL_CRL_INTERVAL", "1h", minimum=60)
CRL_VALIDITY = env.seconds("CERTCTL_CRL_VALIDITY", "24h", minimum=300)
OCSP_MEMO_SECONDS = env.seconds("CERTCTL_OCSP_MEMO_SECONDS", "1", minimum=0)  # see ocsp_memo.py
OCSP_RATE_LIMIT_PER_IP_MIN = env.integer("CERTCTL_OCSP_RATE_LIMIT_PER_IP_MIN", 1000, minimum=0)
OCSP_RESPONSE_VALIDITY = env.seconds("CERTCTL_OCSP_RESPONSE_VALIDITY", "1h", minimum=60)
OCSP_RESPONDER_VALIDITY = env.seconds("CERTCTL_OCSP_RESPONDER_VALIDITY", "720h", minimum=3600)
OCSP_RESPONDER_ROTATION_GRACE = env.seconds("CERTCTL_OCSP_RESPONDER_ROTATION_GRACE", "168h", minimum=60)
CA_DEFAULT_LEAF_VALIDITY_DAYS = env.integer("CERTCTL_LEAF_VALIDITY_DAYS", 90, minimum=1, maximum=3650)
AGENT_OFFLINE_AFTER = env.seconds("CERTCTL_AGENT_OFFLINE_AFTER", "5m", minimum=10)
AGENT_BOOTSTRAP_TOKEN = env.text("CERTCTL_AGENT_BOOTSTRAP_TOKEN")
AGENT_HEALTH_CHECK_INTERVAL = env.seconds("CERTCTL_AGENT_HEALTH_CHECK_INTERVAL", "1m", minimum=1)
AGENT_WORK_LEASE = env.seconds("CERTCTL_AGENT_WORK_LEASE", "10m", minimum=30)
AGENT_WORK_BATCH_SIZE = env.integer("CERTCTL_AGENT_WORK_BATCH_SIZE", 50, minimum=1, maximum=1000)
KEYGEN_MODE = env.text("CERTCTL_KEYGEN_MODE", "agent")
if KEYGEN_MODE not in {"agent", "server"}:
    raise ImproperlyConfigured(f"CERTCTL_KEYGEN_MODE must be 'agent' or 'server', got {KEYGEN_MODE!r}")
APPROVAL_BYPASS = env.flag("CERTCTL_APPROVAL_BYPASS", False)

# --- Notifications --------------------------------------------------------------------------------------
NOTIFICATION_RETRY_BASE_SECONDS = env.integer("CERTCTL_NOTIFICATION_RETRY_BASE_SECONDS", 60, minimum=1)
NOTIFICATION_RETRY_CAP_SECONDS = env.integer("CERTCTL_NOTIFICATION_RETRY_CAP_SECONDS", 3600, minimum=1)
NOTIFICATION_MAX_ATTEMPTS = env.integer("CERTCTL_NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1, maximum=100)
NOTIFICATION_TIMEOUT_SECONDS = env.seconds("CERTCTL_NOTIFICATION_TIMEOUT", "10s", minimum=1)
NOTIFICATION_LEASE_SECONDS = env.integer("CERTCTL_NOTIFICATION_LEASE_SECONDS", 120, minimum=5)
NOTIFICATION_BATCH_SIZE = env.integer("CERTCTL_NOTIFICATION_BATCH_SIZE", 500, minimum=1, maximum=10000)
# A worker starts a row only if its lease outlives a whole delivery deadline plus this margin.
NOTIFICATION_LEASE_MARGIN_SECONDS = 5
# The whole of one HTTP attempt (resolve, connect, send, read); per-read waits stay NOTIFICATION_TIMEOUT_SECONDS.
NOTIFICATION_DEADLINE_SECONDS = env.seconds("CERTCTL_NOTIFICATION_DEADLINE", "30s", minimum=1)
if NOTIFICATION_DEADLINE_SECONDS >= NOTIFICATION_LEASE_SECONDS - NOTIFICATION_LEASE_MARGIN_SECONDS:
    raise ImproperlyConfigured(
        f"CERTCTL_NOTIFICATION_DEADLINE ({NOTIFICATION_DEADLINE_SECONDS:g}s) must be shorter than "
        f"CERTCTL_NOTIFICATION_LEASE_SECONDS minus {NOTIFICATION_LEASE_MARGIN_SECONDS}s "
        f"({NOTIFICATION_LEASE_SECONDS - NOTIFICATION_LEASE_MARGIN_SECONDS}s), or a slow receiver gets each alert twice"
    )
# How long the one-click acknowledgement link in a critical alert stays valid (notifications.services.acknowledge).
NOTIFICATION_ACK_LINK_MAX_AGE = env.seconds("CERTCTL_ACK_LINK_MAX_AGE", "7d", minimum=60)
# HTTP deliveries reach public addresses only; these networks (CIDRs) are the exceptions (an in-house receiver).
NOTIFICATION_ALLOWED_NETWORKS = env.items("CERTCTL_NOTIFICATION_ALLOWED_NETWORKS")
for _network in NOTIFICATION_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network)
    except ValueError:
        raise ImproperlyConfigured(
            f"CERTCTL_NOTIFICATION_ALLOWED_NETWORKS: {_network!r} is not a network like 10.20.0.0/16 or fd00::/8"
        ) from None

SMTP_HOST = env.text("CERTCTL_SMTP_HOST")
SMTP_PORT = env.integer("CERTCTL_SMTP_PORT", 587, minimum=1, maximum=65535)
SMTP_USERNAME = env.text("CERTCTL_SMTP_USERNAME")
SMTP_PASSWORD = env.text("CERTCTL_SMTP_PASSWORD")
SMTP_FROM_ADDRESS = env.text("CERTCTL_SMTP_FROM_ADDRESS")
SMTP_SECURITY = env.text("CERTCTL_SMTP_SECURITY", "starttls").lower()
if SMTP_SECURITY not in {"starttls", "tls", "none"}:
    raise ImproperlyConfigured(f"CERTCTL_SMTP_SECURITY must be starttls, tls or none, got {SMTP_SECURITY!r}")
WEBHOOK_URL = env.text("CERTCTL_WEBHOOK_URL")
WEBHOOK_SECRET = env.text("CERTCTL_WEBHOOK_SECRET")
SLACK_WEBHOOK_URL = env.text("CERTCTL_SLACK_WEBHOOK_URL")
SLACK_CHANNEL = env.text("CERTCTL_SLACK_CHANNEL")
SLACK_USERNAME = env.text("CERTCTL_SLACK_USERNAME", "certctl")
TEAMS_WEBHOOK_URL = env.text("CERTCTL_TEAMS_WEBHOOK_URL")
TEAMS_FORMAT = env.text("CERTCTL_TEAMS_FORMAT", "messagecard").lower()
if TEAMS_FORMAT not in {"messagecard", "adaptive"}:
    raise ImproperlyConfigured(f"CERTCTL_TEAMS_FORMAT must be messagecard or adaptive, got {TEAMS_FORMAT!r}")
PAGERDUTY_ROUTING_KEY = env.text("CERTCTL_PAGERDUTY_ROUTING_KEY")
PAGERDUTY_SEVERITY = env.text("CERTCTL_PAGERDUTY_SEVERITY", "warning").lower()
# PagerDuty refuses (HTTP 400) any other severity, so every alert would go straight to dead.
if PAGERDUTY_SEVERITY not in {"critical", "error", "warning", "info"}:
    raise ImproperlyConfigured(
        f"CERTCTL_PAGERDUTY_SEVERITY must be critical, error, warning or info, got {PAGERDUTY_SEVERITY!r}"
    )
PAGERDUTY_EVENTS_URL = env.text("CERTCTL_PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
OPSGENIE_API_KEY = env.text("CERTCTL_OPSGENIE_API_KEY")
OPSGENIE_PRIORITY = env.text("CERTCTL_OPSGENIE_PRIORITY", "P3").upper()
if OPSGENIE_PRIORITY not in {"P1", "P2", "P3", "P4", "P5"}:
    raise ImproperlyConfigured(f"CERTCTL_OPSGENIE_PRIORITY must be P1 to P5, got {OPSGENIE_PRIORITY!r}")
OPSGENIE_API_URL = env.text("CERTCTL_OPSGENIE_API_URL", "https://api.opsgenie.com/v2/alerts")
# The demo receiver (`manage.py run_demo_receiver`, started by `make run` for every channel left unconfigured)
# listens on 127.0.0.1 only, on these ports; scripts/run.sh picks them next to CERTCTL_PORT.
DEMO_RECEIVER_HTTP_PORT = env.integer("CERTCTL_DEMO_RECEIVER_HTTP_PORT", 8001, minimum=1, maximum=65535)
DEMO_RECEIVER_SMTP_PORT = env.integer("CERTCTL_DEMO_RECEIVER_SMTP_PORT", 8002, minimum=1, maximum=65535)
# The demo TLS lab (`manage.py run_demo_tls_lab`, started by `make run`): 127.0.0.1, four ports from this one.
DEMO_TLS_LAB_PORT = env.integer("CERTCTL_DEMO_TLS_LAB_PORT", 8443, minimum=1, maximum=65530)

# --- Discovery and compliance (docs/discovery.md) ------------------------------------------------------
# Beat's tick that starts due scan profiles and takes over chunks whose worker died (after the lease).
DISCOVERY_SCHEDULE_INTERVAL = env.seconds("CERTCTL_DISCOVERY_SCHEDULE_INTERVAL", "1m", minimum=1)
DISCOVERY_CHUNK_LEASE = env.seconds("CERTCTL_DISCOVERY_CHUNK_LEASE", "10m", minimum=30)
# Roots a served chain may end at without sending them; a chain ending elsewhere misses an intermediate.
DISCOVERY_TRUST_BUNDLE = env.text("CERTCTL_DISCOVERY_TRUST_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
# At most this many certificates in one agent file-scan report.
DISCOVERY_MAX_REPORT_ITEMS = env.integer("CERTCTL_DISCOVERY_MAX_REPORT_ITEMS", 5000, minimum=1)
COMPLIANCE_INTERVAL = env.seconds("CERTCTL_COMPLIANCE_INTERVAL", "1h", minimum=60)  # the re-judging sweep

# --- Audit ----------------------------------------------------------------------------------------------
# API call rows: "queue" (in-process buffer flushed in batches by a thread) or "sync" (insert in the request).
AUDIT_API_WRITE = env.text("CERTCTL_AUDIT_API_WRITE", "queue").lower()
if AUDIT_API_WRITE not in {"queue", "sync"}:
    raise ImproperlyConfigured(f"CERTCTL_AUDIT_API_WRITE must be queue or sync, got {AUDIT_API_WRITE!r}")
AUDIT_QUEUE_MAX = env.integer("CERTCTL_AUDIT_QUEUE_MAX", 10000, minimum=1)
AUDIT_BATCH_SIZE = env.integer("CERTCTL_AUDIT_BATCH_SIZE", 500, minimum=1, maximum=10000)
AUDIT_FLUSH_INTERVAL = env.seconds("CERTCTL_AUDIT_FLUSH_INTERVAL", "200ms", minimum=0.01)
AUDIT_SEAL_INTERVAL = env.seconds("CERTCTL_AUDIT_SEAL_INTERVAL", "30s", minimum=1)
AUDIT_FLUSH_TIMEOUT = env.seconds("CERTCTL_AUDIT_FLUSH_TIMEOUT_SECONDS", "30", minimum=1)

# --- Metrics --------------------------------------------------------------------------------------------
METRICS_ALLOWED_IPS = env.items("CERTCTL_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Logging --------------------------------------------------------------------------------------------
LOG_LEVEL = env.text("CERTCTL_LOG_LEVEL", "INFO").upper()
LOGGING = logging_config(LOG_LEVEL)
