"""Settings of the processes a fault test starts (ASGI server, Celery worker
and beat): the test overrides (tests.settings), but with tasks going through
Redis to a real Celery worker, and evaluation at the production rate."""

from tests.settings import *  # noqa: F403
from tests.settings import ALERTS as _TEST_ALERTS

CELERY_TASK_ALWAYS_EAGER = False
ALERTS = {**_TEST_ALERTS, "EVALUATE_EVERY_S": 30, "URGENT_COALESCE_S": 2}
