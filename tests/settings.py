"""Test overrides in one place (pretix's tests/settings.py): fast hashing, and
the embedded defaults unless DATABASE_URL / REDIS_URL ask for the real
services, so the same suite runs both ways."""

import os

# Before the settings read it: production refuses to start without a key
# (healthhub/settings.py), the tests bring their own.
os.environ.setdefault("SECRET_KEY", "healthhub-tests-only-secret-key-never-used-in-production")

from healthhub.env import env_bool
from healthhub.settings import *  # noqa: F403
from healthhub.settings import DATA_DIR, DATABASES, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so database_sync_to_async threads and live-server
    # subprocesses see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # Tests create and drop databases; a pool would hold connections open.
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)

# Tasks run in-process (eagerly) unless a test asks for the real worker
# (the ``celery_worker_mode`` fixture), which .ci/run starts on Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_WORKER_FOR_TESTS = bool(REDIS_URL) and env_bool("HEALTHHUB_TEST_CELERY_WORKER", False)

DEVICE_PROTOCOL = {**DEVICE_PROTOCOL, "HELLO_TIMEOUT_S": 0.5}  # noqa: F405
# Ingestion's writers give their connections back after each run (a test's
# event loop ends with it: a delayed give-back would never come).
INGESTION_KEEP_CONNECTION_S = 0.0

# Tasks run inline and in order in tests; no beat thread.
EMBEDDED_TASKS_IN_BACKGROUND = False
EMBEDDED_BEAT = False

# The cast signs in with force_login and has no authenticator app; the
# sign-in tests (tests/test_auth.py) switch the second factor on.
HEALTHHUB_REQUIRE_MFA = False

# Every batch is evaluated (no per-worker rate limit) so that tests see
# verdicts at once; tests of the rate limit turn it on.
ALERTS = {**ALERTS, "EVALUATE_EVERY_S": 0, "URGENT_COALESCE_S": 0}  # noqa: F405

# A VAPID pair for tests only (made with manage.py vapid_keys), so that a real
# Celery worker started with these settings signs pushes the tests' local push
# service can check. Never used outside tests.
NOTIFY = {
    **NOTIFY,  # noqa: F405
    "VAPID_PRIVATE_KEY": "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXv2hQ2ynSZv_KK7P63aPdyS7VGCXe5lMTj9cKmKiiQqhRANCAATykm_q1UE3TvKc6y33IOgHX_BNMXMjQfvy5ZdC03EB0bCkQsQW8pO8yy49CLUPljWqx6nzzyMdoelELdwu7fR3",  # noqa: E501
    "VAPID_PUBLIC_KEY": "BPKSb-rVQTdO8pzrLfcg6Adf8E0xcyNB-_Lll0LTcQHRsKRCxBbyk7zLLj0ItQ-WNarHqfPPIx2h6UQt3C7t9Hc",
}
