"""Settings, all read from the environment (see the configuration table in README.md).

With nothing set, the portal runs on embedded defaults that need no server: an SQLite
file, a broker kept in files, and the database as the shared cache, all in DATA_DIR.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATA_DIR = Path(env("PORTAL_DATA_DIR", default=str(BASE_DIR / "data")))
# The folder holds the database, the secret key, token caches and the sandbox's secrets:
# only the account that runs the portal may enter it.
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
# A folder owned by another account (a mounted volume) is left as it is.
with contextlib.suppress(PermissionError):
    DATA_DIR.chmod(0o700)

DEBUG = env.bool("DEBUG", default=False)
# The one-machine mode of `make run` (plain HTTP on 127.0.0.1, a key generated into
# DATA_DIR, static files served from the source tree), with DEBUG off all the same.
# Unset, it follows the data folder: an operator command (`python manage.py sync_now`,
# `shell`) run beside `make run` finds the key that the embedded mode generated and
# works on the same embedded database. A deployment that names its own database, or a
# data folder no embedded run has used, stays in production mode and needs SECRET_KEY.
EMBEDDED_KEY_FILE = DATA_DIR / "secret_key"
EMBEDDED = env.bool(
    "EMBEDDED",
    default=EMBEDDED_KEY_FILE.exists()
    and not env("DATABASE_URL", default="")
    and not env("SECRET_KEY", default=""),
)
# What development and the embedded mode share: no HTTPS-only defaults, a generated key.
LOCAL_RUN = DEBUG or EMBEDDED


def _embedded_secret_key(path: Path) -> str:
    """A key generated once and kept beside the embedded database, for local runs only."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key(key: str) -> bool:
    """Whether `key` is a Fernet key: 32 bytes in URL-safe base64 (44 characters)."""
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not LOCAL_RUN:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (a long random string) in production; only the embedded "
            "one-machine mode (EMBEDDED=true, as `make run` sets) generates one."
        )
    SECRET_KEY = _embedded_secret_key(EMBEDDED_KEY_FILE)

# Keys that seal secrets stored in the database (partner_portal/core/sealed.py): Fernet
# keys separated by commas; the first seals, all open. Unset: derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = [
    k.strip() for k in env.list("FIELD_ENCRYPTION_KEY", default=[]) if k.strip()
]
for _position, _key in enumerate(FIELD_ENCRYPTION_KEY, start=1):
    if not _fernet_key(_key):
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY: key {_position} of {len(FIELD_ENCRYPTION_KEY)} is not a "
            "Fernet key (32 bytes in URL-safe base64, 44 characters); make one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "partner_portal.core",
    "tenants",
    "partner_portal.alerts",
    "partner_portal.correlation",
    "partner_portal.hunting",
    "partner_portal.notifications",
]

MIDDLEWARE = [
    # First, so that answers made by the middleware below carry the policy too.
    "partner_portal.core.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Sessions signed in with Microsoft end when the person leaves the groups.
    "tenants.staff_membership.StaffMembershipMiddleware",
    "partner_portal.core.second_factor.SecondFactorMiddleware",
    "partner_portal.core.preferences.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "partner_portal.urls"
WSGI_APPLICATION = "partner_portal.wsgi.application"
ASGI_APPLICATION = "partner_portal.asgi.application"

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
                "partner_portal.core.context_processors.portal",
                "tenants.context_processors.graph_migration",
                "tenants.context_processors.staff_signin",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'portal.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: wait for locks instead of failing, take the
    # write lock at BEGIN (no upgrade deadlocks), and let readers run beside a writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared token cache and locks across processes) -----------------------------
REDIS_URL = env("REDIS_URL", default="")
if env("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif REDIS_URL:
    CACHES = {"default": env.cache_url_config(REDIS_URL)}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }
CACHES["default"].setdefault("KEY_PREFIX", "portal")

# --- Celery ---------------------------------------------------------------------------
# The file broker names a host (kombu warns "No hostname was supplied" on every
# connection otherwise); a bare "filesystem://" is read the same way.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL in ("filesystem://", "filesystem:///"):
    CELERY_BROKER_URL = "filesystem://localhost/"
BROKER_DIR = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(mode=0o700, exist_ok=True)
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # With acks_late a task whose worker died is handed out again after this many
    # seconds; it must exceed the longest task's hard time limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django support closes a worker's database connections around every task unless
# this is set (it then closes a thread's connections only once in about this many tasks);
# Django's CONN_MAX_AGE and health checks decide instead (partner_portal/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# A customer's first pass (its backfill) has a queue of its own, so a deployment can give
# backfills their own workers (README, "Scale out"); a worker without -Q consumes all.
SYNC_QUEUE, SYNC_BACKFILL_QUEUE = "celery", "backfill"
# Sending notifications waits on a queue of its own: a worker that also takes `celery`
# takes from both in turn, so a message never waits behind a backlog of passes.
NOTIFY_QUEUE = "notify"
# The dispatcher (beat's `alerts.dispatch_due_syncs`, every SYNC_DISPATCH_SECONDS) has a
# queue of its own and, in compose, a one-process worker: on `celery` it waited behind
# the backlog of passes and ran among their threads, slower than its own period
# (bench/RESULTS.md, "The dispatcher on a worker of its own").
SYNC_DISPATCH_QUEUE = "dispatch"
CELERY_TASK_DEFAULT_QUEUE = SYNC_QUEUE
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in (SYNC_QUEUE, SYNC_BACKFILL_QUEUE, NOTIFY_QUEUE, SYNC_DISPATCH_QUEUE)
]
CELERY_TASK_ROUTES = {
    "alerts.dispatch_due_syncs": {"queue": SYNC_DISPATCH_QUEUE},
    "notifications.deliver": {"queue": NOTIFY_QUEUE},
    "notifications.deliver_due": {"queue": NOTIFY_QUEUE},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
SYNC_DISPATCH_SECONDS = env.float("SYNC_DISPATCH_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "portal.core.record_heartbeat",
        "schedule": env.float("HEARTBEAT_SECONDS", default=30.0),
    },
    "dispatch-due-syncs": {
        "task": "alerts.dispatch_due_syncs",
        "schedule": SYNC_DISPATCH_SECONDS,
        # One dispatcher runs one cycle at a time; when a cycle takes longer than the
        # period, beat's requests would pile up on `dispatch` without end. A request not
        # started within this many seconds is dropped (a later one does its work).
        "options": {"expires": max(6 * SYNC_DISPATCH_SECONDS, 30.0)},
    },
    "reverify-customers-daily": {
        "task": "tenants.reverify_all",
        "schedule": env.float("REVERIFY_SECONDS", default=24 * 3600.0),
    },
}

# --- The partner's Entra ID application ------------------------------------------------
# With no client ID configured the portal talks to the local sandbox (see README).
PARTNER_NAME = env("PARTNER_NAME", default="Partner Portal MSSP")
PARTNER_APP_CLIENT_ID = env("PARTNER_APP_CLIENT_ID", default="")
PARTNER_APP_CLIENT_SECRET = env("PARTNER_APP_CLIENT_SECRET", default="")
PARTNER_APP_CERTIFICATE_KEY_FILE = env("PARTNER_APP_CERTIFICATE_KEY_FILE", default="")
PARTNER_APP_CERTIFICATE_THUMBPRINT = env("PARTNER_APP_CERTIFICATE_THUMBPRINT", default="")
# What the registration form preselects for a new customer: the Microsoft cloud and the
# Defender for Endpoint API region ("" is the global host) most of the partner's
# customers use. The values are those of tenants.models.CloudChoice and RegionChoice,
# which cannot be imported before the apps are loaded (a test keeps the lists equal).
_clouds = ("commercial", "gcc", "gcc_high", "dod")
_api_regions = ("", "us", "eu", "uk", "au", "swa", "ina")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    value = value.strip().lower()
    if value not in allowed:
        names = ", ".join(repr(choice) for choice in allowed)
        raise ImproperlyConfigured(f"{name}={value!r} is not known; use one of {names}.")
    return value


PARTNER_CLOUD = _one_of("PARTNER_CLOUD", env.str("PARTNER_CLOUD", default="commercial"), _clouds)
PARTNER_API_REGION = _one_of(
    "PARTNER_API_REGION", env.str("PARTNER_API_REGION", default=""), _api_regions
)
if PARTNER_API_REGION and PARTNER_CLOUD != "commercial":
    raise ImproperlyConfigured(
        "PARTNER_API_REGION names a regional host of the commercial cloud; leave it empty "
        f"when PARTNER_CLOUD is {PARTNER_CLOUD!r}."
    )
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Endpoint overrides: point the portal at the sandbox, or at a proxy.
MICROSOFT_LOGIN_URL = env("MICROSOFT_LOGIN_URL", default="")
# Where a person's browser is sent for consent, when not MICROSOFT_LOGIN_URL (a sandbox's
# plain-HTTP loopback pages); the sandbox of `make run` names its own in sandbox.json.
MICROSOFT_LOGIN_BROWSER_URL = env("MICROSOFT_LOGIN_BROWSER_URL", default="")
MICROSOFT_MDE_API_URL = env("MICROSOFT_MDE_API_URL", default="")
MICROSOFT_XDR_API_URL = env("MICROSOFT_XDR_API_URL", default="")
MICROSOFT_GRAPH_URL = env("MICROSOFT_GRAPH_URL", default="")
MICROSOFT_CA_FILE = env("MICROSOFT_CA_FILE", default="")
# --- Sync ----------------------------------------------------------------------------
SYNC_DEFAULT_INTERVAL_SECONDS = env.int("SYNC_DEFAULT_INTERVAL_SECONDS", default=60)
SYNC_OVERLAP_SECONDS = env.int("SYNC_OVERLAP_SECONDS", default=300)
SYNC_BACKFILL_DAYS = env.int("SYNC_BACKFILL_DAYS", default=30)
# "Import history since <date>" on a customer's page reaches at most this far back.
SYNC_HISTORY_MAX_DAYS = env.int("SYNC_HISTORY_MAX_DAYS", default=180)
SYNC_PAGE_SIZE = env.int("SYNC_PAGE_SIZE", default=10000)
SYNC_EVIDENCE_SEVERITIES = env.list("SYNC_EVIDENCE_SEVERITIES", default=["High", "Medium"])
# An alert opened without evidence has it fetched at most once in this many seconds.
EVIDENCE_FETCH_COOLDOWN_SECONDS = env.int("EVIDENCE_FETCH_COOLDOWN_SECONDS", default=300)
SYNC_LOCK_SECONDS = env.int("SYNC_LOCK_SECONDS", default=120)
SYNC_MAX_BACKOFF_SECONDS = env.int("SYNC_MAX_BACKOFF_SECONDS", default=900)
SYNC_TASK_TIME_LIMIT = env.int("SYNC_TASK_TIME_LIMIT", default=900)
# A pass queued this long ago and not yet ended counts as lost and is queued again.
SYNC_REQUEUE_AFTER_SECONDS = env.int("SYNC_REQUEUE_AFTER_SECONDS", default=600)
# One dispatcher cycle claims and queues at most this many due sources (the longest due
# first); the rest wait for the next cycle, SYNC_DISPATCH_SECONDS later.
SYNC_DISPATCH_BATCH = env.int("SYNC_DISPATCH_BATCH", default=1000)
# Quiet customers (their last passes found nothing new) go this many to a task; 1 gives
# every customer a task of its own.
SYNC_QUIET_BATCH = env.int("SYNC_QUIET_BATCH", default=4)
# Hunting across customers: queries in flight at once per hunt, rows kept per customer,
# and each tenant's hunting quota (Microsoft documents 45 a minute per app and tenant).
HUNT_CONCURRENCY = env.int("HUNT_CONCURRENCY", default=24)
HUNT_MAX_ROWS = env.int("HUNT_MAX_ROWS", default=10000)
HUNT_CALLS_PER_MINUTE = env.int("HUNT_CALLS_PER_MINUTE", default=45)
# Alerts waiting for the indicator index whose task was lost are indexed by this sweep.
CELERY_BEAT_SCHEDULE["index-pending-indicators"] = {
    "task": "correlation.index_pending",
    "schedule": env.float("INDEX_SWEEP_SECONDS", default=60.0),
}

# --- Retention (a nightly task deletes in small batches; 0 days keeps everything) ------
# Sync history: the last RETAIN_SYNC_RUNS passes of each customer's source, and every
# failed pass for RETAIN_SYNC_FAILURES_DAYS days.
RETAIN_SYNC_RUNS = env.int("RETAIN_SYNC_RUNS", default=100)
RETAIN_SYNC_FAILURES_DAYS = env.int("RETAIN_SYNC_FAILURES_DAYS", default=30)
# Alerts and incidents Microsoft has not changed for this many days (e.g. 400).
RETAIN_ALERTS_DAYS = env.int("RETAIN_ALERTS_DAYS", default=0)
# The audit log (who did what to which customer).
RETAIN_AUDIT_DAYS = env.int("RETAIN_AUDIT_DAYS", default=0)
# Finished notifications and their delivery attempts (the delivery log).
RETAIN_DELIVERIES_DAYS = env.int("RETAIN_DELIVERIES_DAYS", default=0)
RETENTION_HOUR_UTC = env.int("RETENTION_HOUR_UTC", default=3)
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=2000)
for _name, _least in (
    ("RETAIN_SYNC_RUNS", 1),
    ("RETAIN_SYNC_FAILURES_DAYS", 0),
    ("RETAIN_ALERTS_DAYS", 0),
    ("RETAIN_AUDIT_DAYS", 0),
    ("RETAIN_DELIVERIES_DAYS", 0),
    ("RETENTION_BATCH_SIZE", 1),
    ("SYNC_DISPATCH_BATCH", 1),
    ("SYNC_QUIET_BATCH", 1),
):
    if globals()[_name] < _least:
        raise ImproperlyConfigured(f"{_name} must be {_least} or more (it is {globals()[_name]}).")
if not 0 <= RETENTION_HOUR_UTC <= 23:
    raise ImproperlyConfigured(
        f"RETENTION_HOUR_UTC must be an hour, 0 to 23 (it is {RETENTION_HOUR_UTC})."
    )
CELERY_BEAT_SCHEDULE["apply-retention-nightly"] = {
    "task": "alerts.apply_retention",
    "schedule": crontab(minute=17, hour=RETENTION_HOUR_UTC),
}

# --- Notifications ---------------------------------------------------------------------
# A failed delivery is tried again after BASE, 2*BASE, 4*BASE ... seconds (at most MAX),
# NOTIFY_MAX_ATTEMPTS times in all. The sweep queues due notifications whose task was lost.
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=3600.0)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=8)
NOTIFY_SWEEP_GRACE_SECONDS = env.int("NOTIFY_SWEEP_GRACE_SECONDS", default=60)
# Alerts Microsoft last changed longer ago than this are not notified (a first sync's
# backfill reaches weeks back).
NOTIFY_MAX_ALERT_AGE_HOURS = env.int("NOTIFY_MAX_ALERT_AGE_HOURS", default=24)
# A CA file for receivers with a private certificate authority (empty: the usual store).
NOTIFY_CA_FILE = env("NOTIFY_CA_FILE", default="")
# A suppression rule must expire, at most this many days after it was last saved (a
# snooze nobody renews ends on its own).
NOTIFY_SUPPRESSION_MAX_DAYS = env.int("NOTIFY_SUPPRESSION_MAX_DAYS", default=90)
CELERY_BEAT_SCHEDULE["deliver-due-notifications"] = {
    "task": "notifications.deliver_due",
    "schedule": env.float("NOTIFY_SWEEP_SECONDS", default=15.0),
}
# How often beat looks for alerts that crossed an SLA goal's warning share or due time.
CELERY_BEAT_SCHEDULE["sla-warnings"] = {
    "task": "notifications.sla_sweep",
    "schedule": env.float("SLA_SWEEP_SECONDS", default=60.0),
}

# A consent link works for this many days; the state of one click on it for this long.
CONSENT_LINK_DAYS = env.int("CONSENT_LINK_DAYS", default=7)
CONSENT_STATE_MAX_AGE = env.int("CONSENT_STATE_MAX_AGE", default=24 * 3600)
SANDBOX_CONFIG_FILE = env("SANDBOX_CONFIG_FILE", default=str(DATA_DIR / "sandbox" / "sandbox.json"))

if (
    not LOCAL_RUN
    and PARTNER_APP_CLIENT_ID
    and not (PARTNER_APP_CLIENT_SECRET or PARTNER_APP_CERTIFICATE_KEY_FILE)
):
    raise ImproperlyConfigured(
        "PARTNER_APP_CLIENT_ID is set but the app has no credential: set "
        "PARTNER_APP_CLIENT_SECRET, or PARTNER_APP_CERTIFICATE_KEY_FILE and "
        "PARTNER_APP_CERTIFICATE_THUMBPRINT."
    )

# --- Auth, sessions, security ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins pause further attempts (partner_portal/core/signin_throttle.py): for an
# account from one address after SIGNIN_ACCOUNT_FAILURES, for the whole address after
# SIGNIN_ADDRESS_FAILURES, each time for SIGNIN_COOLOFF_SECONDS.
AUTHENTICATION_BACKENDS = ["partner_portal.core.signin_throttle.ThrottledModelBackend"]
SIGNIN_ACCOUNT_FAILURES = env.int("SIGNIN_ACCOUNT_FAILURES", default=5)
SIGNIN_ADDRESS_FAILURES = env.int("SIGNIN_ADDRESS_FAILURES", default=50)
SIGNIN_COOLOFF_SECONDS = env.int("SIGNIN_COOLOFF_SECONDS", default=900)
for _name in ("SIGNIN_ACCOUNT_FAILURES", "SIGNIN_ADDRESS_FAILURES", "SIGNIN_COOLOFF_SECONDS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be 1 or more (it is {globals()[_name]}).")
# Two-step sign-in with an authenticator app (partner_portal/core/second_factor.py):
# optional for each local account, or required of every one.
REQUIRE_SECOND_FACTOR = env.bool("REQUIRE_SECOND_FACTOR", default=False)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default=PARTNER_NAME)
# Django admin lists authenticators without their secrets.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Staff sign in with their accounts in the partner's own Entra ID tenant
# (tenants/staff_signin.py); without STAFF_SIGNIN_TENANT_ID, only with the sandbox's.
STAFF_SIGNIN_TENANT_ID = env("STAFF_SIGNIN_TENANT_ID", default="").strip().lower()
STAFF_SIGNIN_CLIENT_ID = env("STAFF_SIGNIN_CLIENT_ID", default="")
STAFF_SIGNIN_CLIENT_SECRET = env("STAFF_SIGNIN_CLIENT_SECRET", default="")
STAFF_SIGNIN_GROUPS = env("STAFF_SIGNIN_GROUPS", default="")
# A Conditional Access authentication context (c1..c99) every staff sign-in must satisfy:
# asked for in the authorization request, checked in the ID token's ``acrs`` claim.
STAFF_SIGNIN_AUTH_CONTEXT = env("STAFF_SIGNIN_AUTH_CONTEXT", default="").strip().lower()
if STAFF_SIGNIN_AUTH_CONTEXT and not re.fullmatch(
    r"c([1-9]|[1-9][0-9])", STAFF_SIGNIN_AUTH_CONTEXT
):
    raise ImproperlyConfigured(
        f"STAFF_SIGNIN_AUTH_CONTEXT={STAFF_SIGNIN_AUTH_CONTEXT!r} is not an authentication "
        "context ID: use the ID your Entra admin gave the context, c1 to c99 (or leave it "
        "empty for none)."
    )
# Retired: it read the ``amr`` claim, which Microsoft's v2.0 ID tokens do not carry, so it
# refused every sign-in. Kept only to stop a portal that still sets it.
if env.bool("STAFF_SIGNIN_REQUIRE_MFA", default=False):
    raise ImproperlyConfigured(
        "STAFF_SIGNIN_REQUIRE_MFA is no longer supported: Microsoft's v2.0 ID tokens carry no "
        "'amr' claim, so it would refuse every sign-in. Require a second factor with a "
        "Conditional Access authentication context instead: set STAFF_SIGNIN_AUTH_CONTEXT "
        "(e.g. c1, see the README's 'Second factor') and remove STAFF_SIGNIN_REQUIRE_MFA."
    )
STAFF_SIGNIN_RECHECK_SECONDS = env.int("STAFF_SIGNIN_RECHECK_SECONDS", default=60)
STAFF_SIGNIN_OFFLINE_GRACE_SECONDS = env.int("STAFF_SIGNIN_OFFLINE_GRACE_SECONDS", default=300)
if STAFF_SIGNIN_TENANT_ID and not re.fullmatch(
    r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", STAFF_SIGNIN_TENANT_ID
):
    raise ImproperlyConfigured("STAFF_SIGNIN_TENANT_ID must be the partner tenant's ID (a GUID).")
if STAFF_SIGNIN_TENANT_ID and not STAFF_SIGNIN_GROUPS:
    raise ImproperlyConfigured(
        "STAFF_SIGNIN_TENANT_ID is set but STAFF_SIGNIN_GROUPS is empty: name the Entra groups "
        "that give portal roles, e.g. STAFF_SIGNIN_GROUPS=<group object ID>=Analysts."
    )
for _entry in filter(None, (e.strip() for e in STAFF_SIGNIN_GROUPS.split(","))):
    _key, _, _value = _entry.partition("=")
    if not _key.strip() or not _value.strip(" |"):
        raise ImproperlyConfigured(
            f"STAFF_SIGNIN_GROUPS entry {_entry!r} is not '<group ID>=<role or team>'."
        )
if STAFF_SIGNIN_CLIENT_ID and not STAFF_SIGNIN_CLIENT_SECRET:
    raise ImproperlyConfigured("STAFF_SIGNIN_CLIENT_ID is set: set STAFF_SIGNIN_CLIENT_SECRET too.")
# Local user names and passwords: off leaves only the BREAK_GLASS_USERS.
LOCAL_PASSWORDS = env.bool("LOCAL_PASSWORDS", default=True)
BREAK_GLASS_USERS = env.list("BREAK_GLASS_USERS", default=[])
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)

# On by default; a local run over plain http://127.0.0.1 (DEBUG or EMBEDDED) turns them off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not LOCAL_RUN)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not LOCAL_RUN)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not LOCAL_RUN)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if LOCAL_RUN else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not LOCAL_RUN)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not LOCAL_RUN)
# Behind the reverse proxy that ends TLS: its X-Forwarded-Proto says whether the request
# was HTTPS, and the last X-Forwarded-For address is the client's (core/http.py).
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- I18N, static, e-mail, logging -----------------------------------------------------
LANGUAGE_CODE = "en-us"
# One time format everywhere (partner_portal/core/times.py), also for `{{ datetime }}`.
FORMAT_MODULE_PATH = ["partner_portal.core.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if LOCAL_RUN
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# The embedded mode has no collectstatic step: whitenoise serves from the source tree.
WHITENOISE_USE_FINDERS = LOCAL_RUN

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="portal@localhost")

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "refusals_in_one_line": {"()": "partner_portal.core.log_filters.RefusalsInOneLine"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # A 403 or 404 is a line, not a traceback (partner_portal/core/log_filters.py).
        "django.request": {"filters": ["refusals_in_one_line"]},
        # MSAL logs request details at DEBUG; keep it quiet so nothing secret can leak.
        "msal": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
