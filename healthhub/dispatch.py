"""Enqueueing Celery tasks without making the caller wait for them.

With a broker (REDIS_URL) this is ``task.delay``. In the embedded default
Celery runs tasks eagerly, which would run them inside the caller (the
ingestion path); here they run on a small background thread pool instead,
and ``start_embedded_beat`` plays celery beat's part in the same process.
Tests set EMBEDDED_TASKS_IN_BACKGROUND off so tasks run inline, in order.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from celery import Task
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _run_inline(task: Task, args: tuple) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        # A background task failing must be seen in the log; the caller has moved on.
        log.exception("embedded task %s%r failed", task.name, args)
    finally:
        close_old_connections()


def enqueue(task: Task, *args: object) -> None:
    global _executor
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        task.delay(*args)
        return
    if not settings.EMBEDDED_TASKS_IN_BACKGROUND:
        task.apply(args=args, throw=True)
        return
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embedded-task")
    _executor.submit(_run_inline, task, args)


def start_embedded_beat() -> threading.Thread:
    """Run CELERY_BEAT_SCHEDULE (fixed intervals in seconds) in a daemon thread."""
    from celery import current_app

    # Task modules load lazily (autodiscover_tasks); a web process may not
    # have imported them yet.
    current_app.loader.import_default_modules()
    schedule = {
        name: (current_app.tasks[entry["task"]], float(entry["schedule"]))
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }

    def loop() -> None:
        due = {name: time.monotonic() + interval for name, (_, interval) in schedule.items()}
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            for name, (task, interval) in schedule.items():
                if now >= due[name]:
                    due[name] = now + interval
                    enqueue(task)

    thread = threading.Thread(target=loop, name="embedded-beat", daemon=True)
    thread.start()
    return thread
