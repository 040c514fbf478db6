"""Settings of the xcargo-web server.

Everything a deployment changes comes from the environment, with defaults that run on one
machine: SQLite in ./var, Redis on localhost, DEBUG off unless XCARGO_DEBUG=1.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from runtimes.errors import UsageError
from runtimes.glibc import DEFAULT_FLOOR, parse_floor
from runtimes.sizes import parse_size
from runtimes.toolchains import offered_toolchains, toolchain_for

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("XCARGO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite cannot create its file's directory

DEBUG = os.environ.get("XCARGO_DEBUG") == "1"


def _local_secret_key(path: Path) -> str:
    """A random key made on first start and kept (mode 0600), so that every web process and
    every restart signs sessions with the same key, and no key is ever a known default.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier start, or by a process starting beside this one
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(get_random_secret_key())
    for _ in range(50):  # a process starting beside this one may still be writing it
        if key := path.read_text().strip():
            return key
        time.sleep(0.1)
    raise RuntimeError(f"{path} is empty: remove it to make a new secret key")


SECRET_KEY = os.environ.get("XCARGO_SECRET_KEY") or _local_secret_key(VAR_DIR / "secret-key")
ALLOWED_HOSTS = os.environ.get("XCARGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "builds",
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
]

ROOT_URLCONF = "xcargo_web.urls"
WSGI_APPLICATION = "xcargo_web.wsgi.application"

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
            ],
        },
    },
]

# DATABASE_URL selects the database (postgres://…); the default is SQLite in ./var.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker's log writer, the web and beat write at once: wait for the lock instead of
    # failing, take it at the start of a transaction, and let readers read during writes (WAL).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a test's Celery worker process opens the same database;
    # one per test run, so that two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # filled by collectstatic; absent, WhiteNoise warns per request
# Artifacts are files under MEDIA_ROOT, served only through the signed-in download views.
MEDIA_ROOT = VAR_DIR / "artifacts"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token goes in hx-headers
X_FRAME_OPTIONS = "DENY"

# The queue: Redis is the broker; results are kept in the database (Build rows), not Celery.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Builds are long: a worker takes one message at a time and acknowledges it when it starts
# (not acks_late). With acks_late, Redis would hand a build that runs past the visibility
# timeout to a second worker; a redelivered message is also harmless, because a build is
# claimed with a conditional update (queued -> preparing image) that only one task can win.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "xcargo.maintenance"
CELERY_BEAT_SCHEDULE = {
    "end-abandoned-builds": {"task": "builds.tasks.end_abandoned_builds", "schedule": 30.0},
    "resend-stalled-builds": {"task": "builds.tasks.resend_stalled_builds", "schedule": 30.0},
    "refresh-engine-hosts": {"task": "builds.tasks.refresh_engine_hosts", "schedule": 300.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# A queued build whose task has not been seen on the queue for this long is sent again.
XCARGO_QUEUE_RESEND_AFTER = int(os.environ.get("XCARGO_QUEUE_RESEND_AFTER", "120"))

# Builds.
# What one build may hold in its target cache, unless its target sets its own (binary units).
XCARGO_BUILD_DISK_LIMIT = os.environ.get("XCARGO_BUILD_DISK_LIMIT", "20g")
try:
    parse_size(XCARGO_BUILD_DISK_LIMIT)
except ValueError as error:
    raise ImproperlyConfigured(f"XCARGO_BUILD_DISK_LIMIT: {error}") from None
# The toolchains this server offers (comma-separated channels; empty: every one Debian has),
# and the one a build gets when nothing names one (empty: the newest offered).
try:
    XCARGO_TOOLCHAINS = offered_toolchains(os.environ.get("XCARGO_TOOLCHAINS"))
    XCARGO_TOOLCHAIN = os.environ.get("XCARGO_TOOLCHAIN", "").strip()
    if XCARGO_TOOLCHAIN and toolchain_for(XCARGO_TOOLCHAIN).channel not in XCARGO_TOOLCHAINS:
        raise UsageError(f"{XCARGO_TOOLCHAIN} is not one of XCARGO_TOOLCHAINS")
except UsageError as error:
    raise ImproperlyConfigured(f"XCARGO_TOOLCHAINS / XCARGO_TOOLCHAIN: {error}") from None
# The oldest glibc the artifacts of *-linux-gnu targets must run on, unless xcargo.toml sets one.
try:
    XCARGO_GLIBC_FLOOR = parse_floor(os.environ.get("XCARGO_GLIBC_FLOOR", str(DEFAULT_FLOOR)))
except UsageError as error:
    raise ImproperlyConfigured(f"XCARGO_GLIBC_FLOOR: {error}") from None
XCARGO_BUILD_TIMEOUT = int(os.environ.get("XCARGO_BUILD_TIMEOUT", str(30 * 60)))
# A running build whose worker has not written for this long is ended as "worker lost".
XCARGO_HEARTBEAT_TIMEOUT = int(os.environ.get("XCARGO_HEARTBEAT_TIMEOUT", "90"))
# The engine host of a worker started without --host, and of builds that name none.
XCARGO_DEFAULT_ENGINE_HOST = os.environ.get("XCARGO_ENGINE_HOST", "local")
# Where workers keep git mirrors and build checkouts.
XCARGO_WORK_DIR = Path(os.environ.get("XCARGO_WORK_DIR", VAR_DIR / "work"))
# Server-local project paths must lie under one of these directories (":"-separated).
XCARGO_SOURCE_ROOTS = [
    Path(part)
    for part in os.environ.get(
        "XCARGO_SOURCE_ROOTS", f"{BASE_DIR / 'tests' / 'fixtures'}:{VAR_DIR / 'sources'}"
    ).split(":")
    if part
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("XCARGO_LOG_LEVEL", "INFO")},
}
