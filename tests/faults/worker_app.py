"""The Celery app of the fault tests' worker: healthhub's, with each
evaluation slowed by FAULT_EVALUATION_DELAY_S so that a test can kill the
worker while one runs."""

from __future__ import annotations

import os
import time

from celery.signals import worker_init

from healthhub.celery import app

__all__ = ["app"]


@worker_init.connect
def _slow_evaluations(**kwargs) -> None:
    delay = float(os.environ.get("FAULT_EVALUATION_DELAY_S") or 0)
    if not delay:
        return
    import django

    django.setup()
    from alerts import services

    evaluate = services.workers_evaluate

    def slow(**kw):
        time.sleep(delay)
        return evaluate(**kw)

    services.workers_evaluate = slow
