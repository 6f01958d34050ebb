import os
import time

from celery import Celery
from celery.signals import beat_init, before_task_publish, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthhub.settings")

app = Celery("healthhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_TASK = "healthhub.heartbeat"


def _stamp(key: str) -> None:
    from django.core.cache import cache

    cache.set(key, time.time(), timeout=None)


@app.task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Beat sends this every HEARTBEAT_INTERVAL_S on the urgent queue; the
    worker that runs it records the time, which /readyz checks (a worker
    that is gone, or whose urgent queue waits, goes stale)."""
    from healthhub.health import BEAT_KEY, WORKER_KEY

    _stamp(WORKER_KEY)
    if heartbeat.request.is_eager:
        _stamp(BEAT_KEY)  # the embedded beat calls it in-process: no publish to see


@before_task_publish.connect
def _beat_sent_heartbeat(sender: str | None = None, **kwargs: object) -> None:
    # In the beat process: the heartbeat is published on schedule, so beat is alive.
    if sender == HEARTBEAT_TASK:
        from healthhub.health import BEAT_KEY

        _stamp(BEAT_KEY)


@worker_process_init.connect
def _pool_process_started(**kwargs: object) -> None:
    from healthhub.collector import gc_tune

    gc_tune()  # a prefork pool's process, once it has loaded


@worker_ready.connect
def _worker_started(**kwargs: object) -> None:
    from healthhub.collector import gc_tune
    from healthhub.health import WORKER_KEY, serve_metrics

    gc_tune()  # the main process, where a threads pool runs the tasks
    _stamp(WORKER_KEY)
    # The worker's own metrics (evaluation lag, pushes), for a scraper on
    # the internal network only (compose: worker:9808); with
    # PROMETHEUS_MULTIPROC_DIR they include every process of the pool.
    port = os.environ.get("METRICS_PORT")
    if port:
        serve_metrics(int(port))


@beat_init.connect
def _beat_started(**kwargs: object) -> None:
    from healthhub.health import BEAT_KEY

    _stamp(BEAT_KEY)
