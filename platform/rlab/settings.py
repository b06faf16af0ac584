"""Django settings, read from the environment.

Embedded defaults (no environment set): a SQLite file and Celery's filesystem transport under var/,
so `make demo` needs no server. Production sets DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from rlab.paths import ARTIFACT_DIR, BROKER_DIR, DATA_DIR, TEMPLATE_DIR, VAR_DIR
from training.planner import parse_size

PRODUCTION = os.environ.get("RLAB_ENV", "development") == "production"
# Debug pages show settings and code: only when asked for, never by default.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"


def _flag(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0") == "1"


def _secret_key() -> str:
    """SECRET_KEY from the environment; outside production a random key is kept under var/ (never in git)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set in the environment when RLAB_ENV=production")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "rlab.teams",
    "rlab.catalog",
    "rlab.experiments",
    "rlab.results",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rlab.teams.middleware.CurrentTeamMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

ROOT_URLCONF = "rlab.urls"
WSGI_APPLICATION = "rlab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TEMPLATE_DIR],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rlab.teams.context_processors.teams",
            ],
        },
    },
]

SQLITE_URL = f"sqlite:///{VAR_DIR / 'rlab.sqlite3'}"
# Persistent connections: a worker task (or a gunicorn request) reuses its process's connection instead of
# opening one each time; the health check (a `SELECT 1` at the first query after Django's
# close_old_connections) replaces a connection the server dropped. Workers call close_old_connections
# before each task (workers.tasks); runserver closes its per-request threads' connections itself.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", SQLITE_URL),
        conn_max_age=int(os.environ.get("RLAB_DB_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the write lock at BEGIN,
    # so two writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "rlab.teams.auth.LoginThrottleBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "experiments:run_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STATICFILES_DIRS = [Path(__file__).resolve().parent / "static"]
# Outside production (no collectstatic) whitenoise serves the static files from the app folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS in production (docs/deployment.md): plain-HTTP requests are redirected, browsers are told to use
# HTTPS only (HSTS), and behind a TLS-terminating proxy the header it sets marks a request as secure.
SECURE_SSL_REDIRECT = _flag("RLAB_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("RLAB_HSTS_SECONDS", str(365 * 24 * 3600) if PRODUCTION else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("RLAB_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = _flag("RLAB_HSTS_PRELOAD", False)
# Preloading is the operator's commitment to browsers' built-in lists, not a default: don't warn about it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]


def _proxy_ssl_header() -> tuple[str, str] | None:
    """`RLAB_PROXY_SSL_HEADER="X-Forwarded-Proto: https"` → Django's ("HTTP_X_FORWARDED_PROTO", "https").
    Set it only behind a proxy that always sets (or strips) that header, or clients could forge it."""
    header, _, value = os.environ.get("RLAB_PROXY_SSL_HEADER", "").partition(":")
    if not header.strip():
        return None
    return "HTTP_" + header.strip().upper().replace("-", "_"), value.strip()


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()

# Login throttling (django-axes): after RLAB_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address (REMOTE_ADDR; behind a proxy, the proxy's), that pair is locked out for RLAB_LOGIN_COOLOFF_MINUTES.
# A successful login clears the count.
AXES_FAILURE_LIMIT = int(os.environ.get("RLAB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("RLAB_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner on every start of a CLI command or worker
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

RLAB_DATA_DIR = DATA_DIR
RLAB_ARTIFACT_DIR = ARTIFACT_DIR
# Uploads larger than this are stored under RLAB_DATA_DIR/uploads/ and imported by a worker, so the request
# returns at once (web and workers must share that folder); smaller ones are imported in the request.
RLAB_INLINE_IMPORT_BYTES = int(os.environ.get("RLAB_INLINE_IMPORT_BYTES", str(4 * 1024 * 1024)))
# The one local folder the hub import may read datasets from (a "hub id" that names a local folder);
# unset, it reads none: a relative path such as the artifact folder must not pass for a hub id.
RLAB_IMPORT_ROOT = (
    Path(os.environ["RLAB_IMPORT_ROOT"]).resolve() if os.environ.get("RLAB_IMPORT_ROOT") else None
)
# The folders local models may be named from (`model.id: /models/qwen`), separated by ":"; symlinks and ".."
# are resolved before the check, and the artifact folder (other teams' checkpoints) never counts. Unset:
# var/models only. A team's own checkpoints are named run:NAME[@STEP], not by path.
RLAB_MODEL_ROOTS = [
    Path(root).resolve()
    for root in os.environ.get("RLAB_MODEL_ROOTS", str(VAR_DIR / "models")).split(os.pathsep)
    if root
]
# Bounds on what one spec may ask for (web, API and CLI alike).
RLAB_MAX_SPEC_BYTES = int(os.environ.get("RLAB_MAX_SPEC_BYTES", str(64 * 1024)))
RLAB_MAX_SWEEP_POINTS = int(os.environ.get("RLAB_MAX_SWEEP_POINTS", "1000"))
# A running run writes a heartbeat this often; one silent for RLAB_STALE_AFTER_SECONDS is re-queued.
RLAB_HEARTBEAT_SECONDS = float(os.environ.get("RLAB_HEARTBEAT_SECONDS", "15"))
RLAB_STALE_AFTER_SECONDS = float(os.environ.get("RLAB_STALE_AFTER_SECONDS", "300"))
RLAB_STALE_CHECK_SECONDS = float(os.environ.get("RLAB_STALE_CHECK_SECONDS", "60"))
# GPU placement (docs/architecture.md "GPU placement"): the devices a gpu worker places jobs on (unset: every
# GPU nvidia-smi lists; "0,1,2,3": those ids, real or fake; "": none), how soon a job that does not fit
# tries again, and how long a run may wait before its worker holds devices back for it (no more backfill).
RLAB_GPUS = os.environ.get("RLAB_GPUS")
RLAB_DEVICE_RETRY_SECONDS = float(os.environ.get("RLAB_DEVICE_RETRY_SECONDS", "10"))
RLAB_BACKFILL_LIMIT_SECONDS = float(os.environ.get("RLAB_BACKFILL_LIMIT_SECONDS", "1800"))
# Memory of one GPU of the gpu queue's workers: submission refuses runs the planner says cannot fit it.
# Parsed here, so that a malformed value stops the server at start with training.planner's message.
RLAB_GPU_MEMORY = os.environ.get("RLAB_GPU_MEMORY", "80GiB")
RLAB_GPU_MEMORY_BYTES = parse_size(RLAB_GPU_MEMORY)

# Celery: the filesystem transport needs no server; the same folder is inbox and outbox for all processes.
# (Its URL names a host only so that kombu does not warn that none was given.)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Redis re-delivers a message its worker has not acknowledged after this long (a killed worker's
    # task). Claims make a re-delivery of a live task harmless (it is skipped), so it only needs to be
    # longer than a worker takes to pick a message up; stale heartbeats re-send sooner (rlab beat).
    else {"visibility_timeout": float(os.environ.get("RLAB_VISIBILITY_TIMEOUT", "3600"))}
)

# Celery's Django fix-up closes every database connection before and after each task unless this is set;
# it then closes them after this many tasks only, and CONN_MAX_AGE / health checks decide the rest.
CELERY_DB_REUSE_MAX = 1000

# `rlab beat` (one per site) looks for runs and evaluations whose worker died (no heartbeat) and sends
# them again; its checks go to their own queue and expire after one interval, so they never pile up.
CELERY_BEAT_SCHEDULE = {
    name: {
        "task": f"workers.tasks.{name.replace('-', '_')}",
        "schedule": RLAB_STALE_CHECK_SECONDS,
        "options": {"queue": "maintenance", "expires": RLAB_STALE_CHECK_SECONDS},
    }
    for name in ("requeue-stale-runs", "requeue-stale-evaluations")
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("RLAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
