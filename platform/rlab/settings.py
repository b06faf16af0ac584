"""Django settings, read from the environment.

Embedded defaults (no environment set): a SQLite file and Celery's filesystem transport under var/,
so `make demo` needs no server. Production sets DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

import os
import secrets
from pathlib import Path

import dj_database_url

from rlab.paths import ARTIFACT_DIR, BROKER_DIR, DATA_DIR, TEMPLATE_DIR, VAR_DIR
from training.planner import parse_size

PRODUCTION = os.environ.get("RLAB_ENV", "development") == "production"
DEBUG = os.environ.get("DJANGO_DEBUG", "0" if PRODUCTION else "1") == "1"


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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

RLAB_DATA_DIR = DATA_DIR
RLAB_ARTIFACT_DIR = ARTIFACT_DIR
# A running run writes a heartbeat this often; one silent for RLAB_STALE_AFTER_SECONDS is re-queued.
RLAB_HEARTBEAT_SECONDS = float(os.environ.get("RLAB_HEARTBEAT_SECONDS", "15"))
RLAB_STALE_AFTER_SECONDS = float(os.environ.get("RLAB_STALE_AFTER_SECONDS", "300"))
RLAB_STALE_CHECK_SECONDS = float(os.environ.get("RLAB_STALE_CHECK_SECONDS", "60"))
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
    else {"visibility_timeout": 6 * 3600}
)

# Celery's Django fix-up closes every database connection before and after each task unless this is set;
# it then closes them after this many tasks only, and CONN_MAX_AGE / health checks decide the rest.
CELERY_DB_REUSE_MAX = 1000

# Workers started with --beat look for runs whose worker died (no heartbeat) and queue them again.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-runs": {
        "task": "workers.tasks.requeue_stale_runs",
        "schedule": RLAB_STALE_CHECK_SECONDS,
        "options": {"queue": "cpu"},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("RLAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
