"""The one settings module. Everything comes from the environment, with
embedded defaults that run anywhere (SQLite, in-memory channel layer, Celery
in-process). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import dj_database_url

from healthhub.env import env_bool, env_int, env_list, env_str
from healthhub.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("HEALTHHUB_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite database lives here by default

DEBUG = env_bool("DEBUG", False)
# Production sets SECRET_KEY (or SECRET_KEY_FILE); see the hardening block at
# the end for the demo's embedded key.
SECRET_KEY = env_str("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "workers",
    "accounts",
    "devices",
    "alerts",
    "insights",
    "consultations",
    "appointments",
    "portal",
    "desk",
]

# The simulation package (simulated wearables, scenarios, the replay, the demo
# and its seed commands) is for development and the demo only: the production
# image does not ship it, so it is installed only where it is present.
if importlib.util.find_spec("simulation") is not None:
    INSTALLED_APPS.append("simulation")
# daphne gives `manage.py runserver` its ASGI server; it is a development
# dependency (it brings Twisted), absent from the production image, which
# serves with uvicorn.
if importlib.util.find_spec("daphne") is not None:
    INSTALLED_APPS.insert(0, "daphne")

MIDDLEWARE = [
    # /healthz, /readyz and /metrics, before the host check and sessions.
    "healthhub.health.HealthMiddleware",
    "healthhub.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.WorkerLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.SessionExpiryMiddleware",
    "accounts.middleware.RequireSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "healthhub.urls"
ASGI_APPLICATION = "healthhub.asgi.application"
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

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "healthhub.sqlite3",
        }
    }
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the server, the simulator's server and a worker read while one
    # writes; IMMEDIATE transactions take the write lock up front so
    # concurrent writers wait (timeout) instead of failing on lock upgrade.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
elif _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # Django's psycopg 3 pool; connections are returned after each request or
    # database_sync_to_async call, so the pool bounds connections per process.
    from healthhub.dbpool import reconnect_promptly

    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 2),
        "max_size": env_int("DATABASE_POOL_MAX", 20),
        "timeout": 30,
    }
    _db["CONN_MAX_AGE"] = 0
    # With the pool, Django makes this the pool's check: a connection broken
    # by a database restart is found out when it is taken from the pool (one
    # empty round trip), not by the batch that would fail on it.
    _db["CONN_HEALTH_CHECKS"] = True
    reconnect_promptly()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery ---------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis going away pauses live events instead of ending every
            # socket of the process (healthhub/layers.py).
            "BACKEND": "healthhub.layers.ResilientRedisChannelLayer",
            "CONFIG": {
                # redis-py's default socket timeout (5 s) is exactly the
                # blocking receive of channels-redis (BZPOPMIN, 5 s): on a busy
                # server the empty reply arrives a little late, the read times
                # out, and the consumer that was receiving dies (close 1011).
                # A dead Redis fails a connect in 2 s, and a pooled connection
                # idle for 10 s is checked before it is used again.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 2,
                        "health_check_interval": 10,
                    }
                ],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache only coalesces evaluation requests: a dead Redis must
            # fail fast, and a connection broken by a restart is checked
            # before it is reused.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2, "health_check_interval": 10},
        }
    }
else:
    # Works inside one process only: the demo runs server, ingestion and
    # Celery tasks in that one process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
# Every worker consumes both queues (celery -A healthhub worker -Q urgent,celery),
# and takes from them in that order ("priority"): an SOS or a fall is judged
# before any routine evaluation waiting in the queue.
CELERY_TASK_ROUTES = {
    "alerts.tasks.evaluate_worker_urgent": {"queue": "urgent"},
    "alerts.tasks.evaluate_workers_urgent": {"queue": "urgent"},
    "alerts.tasks.sweep_evaluations": {"queue": "urgent"},
    # The readiness heartbeat (healthhub.health): quick, and it must not wait behind routine work.
    "healthhub.heartbeat": {"queue": "urgent"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "queue_order_strategy": "priority",
    # A task a dead worker had taken (acks_late) is delivered again after
    # this long, not after the default hour: evaluations take seconds. A
    # task still running past it may be delivered twice, which the claim in
    # the outbox makes harmless (alerts.services.evaluations_run).
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_S", 60),
    # A dead or unreachable Redis fails a publish in about a second, not
    # after the connection's default retries; the outbox keeps the request.
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Periodic tasks: a static schedule, run by celery beat or, in the embedded
# default, by healthhub.dispatch.start_embedded_beat inside the server.
CELERY_BEAT_SCHEDULE = {
    "healthhub-heartbeat": {"task": "healthhub.heartbeat", "schedule": 30.0},
    "alerts-escalate-overdue": {"task": "alerts.tasks.escalate_overdue", "schedule": 30.0},
    "alerts-check-signals": {"task": "alerts.tasks.check_signals", "schedule": 60.0},
    "alerts-evaluate-open": {"task": "alerts.tasks.evaluate_on_shift", "schedule": 60.0},
    # The outbox's sweeper: evaluations whose request was lost (Redis
    # restarted or down, a worker killed) are enqueued again.
    "alerts-sweep-evaluations": {"task": "alerts.tasks.sweep_evaluations", "schedule": 5.0},
    "alerts-refresh-baselines": {"task": "alerts.tasks.refresh_baselines", "schedule": 3600.0},
    "insights-detect-outbreaks": {"task": "insights.tasks.detect_outbreaks", "schedule": 900.0},
    # --- hrprivacy: snapshots of closed days and weeks for the HR pages ---
    "insights-take-snapshots": {"task": "insights.tasks.take_snapshots", "schedule": 900.0},
    # --- end hrprivacy ---
    "devices-enforce-retention": {"task": "devices.tasks.enforce_retention", "schedule": 3600.0},
    "devices-maintain-partitions": {"task": "devices.tasks.maintain_partitions", "schedule": 3600.0},
    # Charts read summaries up to the newest: closed hours and late readings.
    "devices-roll-up-summaries": {"task": "devices.tasks.roll_up_summaries", "schedule": 300.0},
    "devices-prune-window-buckets": {"task": "devices.tasks.prune_window_buckets", "schedule": 60.0},
    "consultations-overdue-questions": {"task": "consultations.tasks.mark_overdue_questions", "schedule": 60.0},
    "appointments-send-reminders": {"task": "appointments.tasks.send_reminders", "schedule": 60.0},
    "appointments-close-past": {"task": "appointments.tasks.close_past", "schedule": 300.0},
}
# /readyz fails when the worker or beat heartbeat is older than this.
HEARTBEAT_STALE_S = env_int("HEARTBEAT_STALE_S", 120)
# Embedded default only: run eager tasks on a background thread (so that
# ingestion never waits for them) and the beat schedule inside the server.
EMBEDDED_TASKS_IN_BACKGROUND = env_bool("EMBEDDED_TASKS_IN_BACKGROUND", True)
EMBEDDED_BEAT = env_bool("EMBEDDED_BEAT", True) and CELERY_TASK_ALWAYS_EAGER

# Questions answered in writing: the time the service promises, and where
# their photos are kept (never under a public URL).
QUESTION_ANSWER_HOURS = env_int("QUESTION_ANSWER_HOURS", 24)
QUESTION_PHOTO_MAX_BYTES = env_int("QUESTION_PHOTO_MAX_BYTES", 8 * 1024 * 1024)
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(DATA_DIR / "private")))

# Appointments: how far ahead workers may book, how late they may change a
# booking, when the room opens, and when an unattended booking counts as missed.
APPOINTMENTS = {
    "BOOKING_DAYS": env_int("APPOINTMENT_BOOKING_DAYS", 14),
    "MIN_LEAD_MINUTES": env_int("APPOINTMENT_MIN_LEAD_MINUTES", 30),
    "CHANGE_CUTOFF_MINUTES": env_int("APPOINTMENT_CHANGE_CUTOFF_MINUTES", 60),
    "ROOM_OPENS_MINUTES_BEFORE": env_int("APPOINTMENT_ROOM_OPENS_MINUTES_BEFORE", 5),
    "NO_SHOW_GRACE_MINUTES": env_int("APPOINTMENT_NO_SHOW_GRACE_MINUTES", 10),
    "PROPOSED_MINUTES": env_int("APPOINTMENT_PROPOSED_MINUTES", 20),
}

# --- Auth ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in and safety: accounts/. django-allauth signs in (by
# username; accounts are made by administrators, no sign-up, no e-mail), asks
# for the authenticator code of enrolled users, and enrols TOTP with recovery
# codes; django-axes locks a username out from one address after repeated
# failures.
AUTHENTICATION_BACKENDS = [
    "accounts.adapters.AxesBackend",  # first: refuses a locked-out sign-in before any password check
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:home"
LOGOUT_REDIRECT_URL = "login"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.adapters.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = True  # the session lasts SESSION_COOKIE_AGE, not until the browser closes
ACCOUNT_LOGOUT_ON_GET = False
# A whole plant may sign in from one address at shift change, so no per-address
# limit; failed passwords are axes' business; authenticator codes: 5 per 5 minutes per user.
ACCOUNT_RATE_LIMITS = {"login": False, "login_failed": "5/300s/key"}
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Clinicians, HR and administrators must use a second factor (tests switch it off
# for the force_login cast and switch it on where they test it).
HEALTHHUB_REQUIRE_MFA = env_bool("HEALTHHUB_REQUIRE_MFA", True)
# Staff are signed out after this long without a request; everyone after SESSION_COOKIE_AGE.
STAFF_IDLE_TIMEOUT = env_int("STAFF_IDLE_TIMEOUT", 30 * 60)
# Every open browser socket re-checks its session (signed out, expired,
# deactivated, role or sites changed) at least this often; the events that
# close sockets at once are in accounts/socket_receivers.py (docs/sockets.md).
SOCKET_RECHECK_S = env_int("SOCKET_RECHECK_S", 15)
# The client address for the sign-in lockout: REMOTE_ADDR, unless the server
# runs behind reverse proxies, listed here (addresses or networks); then the
# nearest address in X-Forwarded-For that is not one of them (accounts.client_address).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"
# "Clinician", "clinician" and "CLINICIAN" are one username to sign-in, so one to the lockout.
AXES_USERNAME_CALLABLE = "accounts.adapters.lockout_username"
# Readings from a wearable linked to a worker (or given a new key) less than
# this long ago are marked on the clinicians' worker page: they may not be
# the worker's yet.
DEVICE_NEW_LINK_HOURS = env_int("DEVICE_NEW_LINK_HOURS", 24)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not prolong it: it ends LOGIN_LOCKOUT_MINUTES after the last counted failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.adapters.lockout_response"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
# SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE: the HTTPS switch, hardening block at the end.

# --- I18N ------------------------------------------------------------------
LANGUAGE_CODE = "ko"
# Each language named in its own words. Adding one is a catalogue under
# locale/ and an entry here (docs/languages.md).
LANGUAGES = [("ko", "한국어"), ("en", "English"), ("vi", "Tiếng Việt")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.BasicAuthentication",  # refuses staff: a password alone is one factor
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")
SPECTACULAR_SETTINGS = {
    "TITLE": "healthhub API",
    "DESCRIPTION": "Remote monitoring of factory workers' health.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Device protocol (../shared/device-protocol.md) ------------------------
# A process's ingestion writers (devices.ingestion) keep their database
# connections this long (seconds) after their last group commit before
# giving them back to the pool (0: at once, the tests' setting).
INGESTION_KEEP_CONNECTION_S = 2.0
DEVICE_PROTOCOL = {
    "HELLO_TIMEOUT_S": float(env_int("DEVICE_HELLO_TIMEOUT_S", 10)),
    "MAX_BATCH": 500,
    "MAX_FRAME_BYTES": 256 * 1024,
    "FUTURE_TOLERANCE_S": 300,
    "BACKFILL_DAYS": env_int("DEVICE_BACKFILL_DAYS", 7),
    # Token bucket per device: sustained frames per second and burst size.
    "RATE_PER_S": float(env_int("DEVICE_RATE_PER_S", 10)),
    "RATE_BURST": env_int("DEVICE_RATE_BURST", 40),
    # After this many rate-limited frames in a row the device is disconnected (4429).
    "RATE_CLOSE_AFTER": env_int("DEVICE_RATE_CLOSE_AFTER", 20),
    # How often a connection refreshes the device's last-seen time and checks
    # that the device has not been revoked meanwhile.
    "TOUCH_INTERVAL_S": float(env_int("DEVICE_TOUCH_INTERVAL_S", 15)),
}

# One JSON object per line where logs are collected (LOG_FORMAT=json: the
# image sets it, and it is the default with Redis, i.e. the production
# topology); plain lines in the demo. Both carry the request id and device.
LOG_FORMAT = env_str("LOG_FORMAT", "json" if REDIS_URL else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ValueError(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
LOGGING = logging_config(json_lines=LOG_FORMAT == "json", level=env_str("LOG_LEVEL", "INFO"))
# A 403 is one line, without a traceback (healthhub/request_log.py); other
# errors keep theirs.
LOGGING["filters"]["refusals_without_traceback"] = {"()": "healthhub.request_log.RefusalsWithoutTraceback"}
LOGGING["loggers"]["django.request"] = {"filters": ["refusals_without_traceback"]}

# --- Alerts ------------------------------------------------------------------
ALERTS = {
    # A condition cleared (by its margin) for this long resolves its alert.
    "AUTO_RESOLVE_AFTER_S": env_int("ALERT_AUTO_RESOLVE_AFTER_S", 600),
    # Routine re-evaluation of a worker at most this often (seconds); an SOS
    # or a fall is evaluated at once on the "urgent" queue. A reading waits at
    # most about this long for its evaluation (the lag's floor, docs/durable.md).
    "EVALUATE_EVERY_S": env_int("ALERT_EVALUATE_EVERY_S", 15),
    "URGENT_COALESCE_S": 2,
    # Workers per routine evaluation task (their windows load in one query).
    "EVALUATE_BATCH": env_int("ALERT_EVALUATE_BATCH", 100),
    # A server process holds routine evaluation requests this long (ms)
    # to send them in one task: the workers whose readings came in a second
    # are evaluated together, not one task each. An SOS or a fall is not held.
    "ROUTINE_HOLD_MS": env_int("ALERT_ROUTINE_HOLD_MS", 1000),
    # The sweeper re-enqueues an SOS or a fall not evaluated this long after
    # it was stored, and other readings after EVALUATE_EVERY_S plus this grace.
    "URGENT_SWEEP_AFTER_S": env_int("ALERT_URGENT_SWEEP_AFTER_S", 5),
    "ROUTINE_SWEEP_GRACE_S": env_int("ALERT_ROUTINE_SWEEP_GRACE_S", 15),
    # How long an evaluation's claim on a worker lasts if its process dies.
    "CLAIM_LEASE_S": env_int("ALERT_CLAIM_LEASE_S", 15),
    # After a failed request the fast path rests this long (the sweeper covers it).
    "FAST_PATH_PAUSE_S": env_int("ALERT_FAST_PATH_PAUSE_S", 5),
}

# --- Consultations: WebRTC video calls --------------------------------------
# STUN/TURN servers for the browsers' RTCPeerConnection, as the JSON list the
# browser takes, e.g. [{"urls": "turn:turn.example:3478", "username": "u",
# "credential": "p"}]. None are needed on a LAN (the default); a TURN
# credential may come from WEBRTC_ICE_SERVERS_FILE.
try:
    WEBRTC_ICE_SERVERS = json.loads(env_str("WEBRTC_ICE_SERVERS", "") or "[]")
except json.JSONDecodeError:
    WEBRTC_ICE_SERVERS = None  # reported just below
if not isinstance(WEBRTC_ICE_SERVERS, list) or not all(
    isinstance(server, dict) and "urls" in server for server in WEBRTC_ICE_SERVERS
):
    raise ValueError('WEBRTC_ICE_SERVERS must be a JSON list of objects with "urls"')

# --- Insights ----------------------------------------------------------------
INSIGHTS = {
    # Cells built from fewer than K distinct workers are hidden from HR.
    # K may be raised, never lowered below 5.
    "K": env_int("INSIGHTS_K", 5),
    "FEVER_TEMPERATURE": 37.5,
    # HR pages read snapshots of closed days and weeks (insights.services.
    # snapshots_take): a day is closed this long after its local midnight,
    # and this many past weeks and days are filled in when missing.
    "SNAPSHOT_GRACE_MINUTES": env_int("INSIGHTS_SNAPSHOT_GRACE_MINUTES", 60),
    "SNAPSHOT_WEEKS": env_int("INSIGHTS_SNAPSHOT_WEEKS", 12),
    "SNAPSHOT_DAYS": env_int("INSIGHTS_SNAPSHOT_DAYS", 28),
}
if INSIGHTS["K"] < 5:
    raise ValueError("INSIGHTS_K may only be raised above 5, never lowered")

# --- Retention -----------------------------------------------------------------
RETENTION = {
    # Raw readings are kept this long, then rolled up into per-minute summaries.
    "RAW_DAYS": env_int("RETENTION_RAW_DAYS", 90),
    # Per-minute summaries are kept this long.
    "SUMMARY_DAYS": env_int("RETENTION_SUMMARY_DAYS", 730),
    # Rows per batch (one short transaction each; under SQLite's 32,766
    # parameters per statement) and seconds per run at most.
    "BATCH_SIZE": env_int("RETENTION_BATCH_SIZE", 4000),
    "MAX_SECONDS": env_int("RETENTION_MAX_SECONDS", 300),
}
if RETENTION["SUMMARY_DAYS"] < RETENTION["RAW_DAYS"]:
    raise ValueError("RETENTION_SUMMARY_DAYS must not be shorter than RETENTION_RAW_DAYS")

# --- Notifications: Web Push, email, SMS / KakaoTalk (docs/notify.md) ---------
NOTIFY = {
    # VAPID keys for Web Push, base64url (python manage.py vapid_keys makes a
    # pair). Without them push is off and the devices page says so.
    "VAPID_PRIVATE_KEY": env_str("VAPID_PRIVATE_KEY", ""),
    "VAPID_PUBLIC_KEY": env_str("VAPID_PUBLIC_KEY", ""),
    "VAPID_SUBJECT": env_str("VAPID_SUBJECT", "mailto:admin@healthhub.invalid"),
    # "logging" (writes to the log) or "solapi" (SMS, or KakaoTalk with a channel and template).
    "SMS_BACKEND": env_str("SMS_BACKEND", "logging"),
    "SMS_SENDER": env_str("SMS_SENDER", ""),
    "SOLAPI_URL": env_str("SOLAPI_URL", "https://api.solapi.com"),
    "SOLAPI_API_KEY": env_str("SOLAPI_API_KEY", ""),
    "SOLAPI_API_SECRET": env_str("SOLAPI_API_SECRET", ""),
    "KAKAO_PF_ID": env_str("KAKAO_PF_ID", ""),
    "KAKAO_TEMPLATE_ID": env_str("KAKAO_TEMPLATE_ID", ""),
    # Where links in notifications point (the lock screen shows no details;
    # the link opens healthhub, which asks for sign-in).
    "BASE_URL": env_str("HEALTHHUB_BASE_URL", "http://localhost:8000"),
    "SEND_TIMEOUT_S": float(env_int("NOTIFY_SEND_TIMEOUT_S", 10)),
    # A delivery is tried this many times, backing off, then marked failed.
    "MAX_ATTEMPTS": env_int("NOTIFY_MAX_ATTEMPTS", 6),
    # A claimed delivery whose sender died is sent again after this long:
    # twice the send timeout, so that a sender killed mid-send (a Celery
    # worker lost with an SOS push in hand) delays it by at most this plus a
    # sweep (15 s); it was 60 s, a minute and more for an SOS. A sender still
    # at work past it may have the message sent twice (same tag: a phone
    # shows it once).
    "CLAIM_S": env_int("NOTIFY_CLAIM_S", 20),
}
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "healthhub <noreply@healthhub.invalid>")
# Sending goes on the urgent queue; the sweeper re-sends what is still owed,
# and the escalation chains are checked every 10 s (a step is due to the second).
CELERY_TASK_ROUTES["alerts.tasks.send_notification"] = {"queue": "urgent"}
CELERY_BEAT_SCHEDULE["alerts-escalate-overdue"]["schedule"] = 10.0
CELERY_BEAT_SCHEDULE["alerts-sweep-notifications"] = {"task": "alerts.tasks.sweep_notifications", "schedule": 15.0}

# === Hardening (docs/hardening.md) ==========================================
# One block, so that merges stay easy: the demo key, the HTTPS switch, the
# security headers (CSP, Permissions-Policy, no-store) and who may read the
# API schema.
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

# The embedded key exists for `make demo` (HEALTHHUB_DEMO=true), DEBUG and the
# tests (tests/settings.py sets its own key); anywhere else a missing key is
# an error, never a silent well-known key that signs sessions.
HEALTHHUB_DEMO = env_bool("HEALTHHUB_DEMO", False)
if not SECRET_KEY:
    if not (DEBUG or HEALTHHUB_DEMO):
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set; for the demo use `make demo` or HEALTHHUB_DEMO=true"
        )
    SECRET_KEY = "healthhub-insecure-demo-key-change-me"

# HTTPS=true, for production behind a TLS-terminating proxy that sets
# X-Forwarded-Proto: HSTS, redirect to HTTPS, cookies only over HTTPS.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = HTTPS and env_bool("HSTS_PRELOAD", True)
if HTTPS:
    # The proxy says which scheme the browser used; only trust it behind one.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): no inline script anywhere, no plugin,
# no framing. Styles: the docs page's one inline <style> (drf-spectacular)
# gets 'unsafe-inline' by a decorator there, nowhere else.
INSTALLED_APPS.append("csp")
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # data: for the authenticator QR code (an SVG data URI)
        "connect-src": ["'self'"],  # fetch and the same-origin WebSockets
        "font-src": ["'self'"],
        "media-src": ["'self'"],
        "worker-src": ["'self'"],  # the portal's service worker
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Permissions-Policy (django-permissions-policy): powerful features off
# everywhere; the consultation page turns camera and microphone on for
# itself (consultations.views).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django_permissions_policy.PermissionsPolicyMiddleware",
)
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# Cache-Control: no-store on every response that Django answers (pages and
# API; static files are answered earlier by WhiteNoise and keep their
# caching), unless the view chose its own caching.
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1, "healthhub.caching.NoStoreMiddleware"
)

# The API's schema and docs are for signed-in users; devices follow the
# protocol document (docs/device-protocol.md) instead.
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAuthenticated"]
# Every operation documents its error answers (400/401/403/404/409), so that
# the schema holds for every role (tests/schemathesis).
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "healthhub.api_schema.document_errors",
]
# === End of hardening ========================================================
