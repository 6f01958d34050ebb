"""Celery tasks of the risk engine: thin wrappers around alerts.services.
All take primary keys, are idempotent and safe to retry (acks_late)."""

from __future__ import annotations

from celery import shared_task

from alerts import services


def pending_key(worker_id: int, urgent: bool = False) -> str:
    return f"alerts:evaluate-{'urgent' if urgent else 'pending'}:{worker_id}"


# Evaluations are acknowledged to the broker only when done (acks_late) and
# given back if the worker process dies mid-way (reject_on_worker_lost), so a
# killed worker's task is delivered again; the claim in the outbox makes
# that, or any duplicate, harmless, and the sweeper covers a task the broker
# lost altogether.
_EVALUATION = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "retry_backoff_max": 10,
    "max_retries": 5,
}


@shared_task(**_EVALUATION)
def evaluate_worker(worker_id: int) -> int:
    """Evaluate one worker now (a check-in, a beat sweep), clearing what the
    outbox has pending for them if no one else holds it."""
    return services.evaluations_run(worker_ids=[worker_id], every_worker=True)


@shared_task(**_EVALUATION)
def evaluate_workers(worker_ids: list[int], scheduled: str | None = None) -> int:
    """Routine evaluation of the workers among ``worker_ids`` whose readings
    are still unevaluated, many per task. ``scheduled``: the sweeper's token
    for the rows it reserved for this task."""
    return services.evaluations_run(worker_ids=worker_ids, scheduled=scheduled)


@shared_task(**_EVALUATION)
def evaluate_worker_urgent(worker_id: int) -> int:
    """The same for a batch with an SOS or a fall, on the "urgent" queue
    (CELERY_TASK_ROUTES), which must not wait behind routine work."""
    return services.evaluations_run(worker_ids=[worker_id], urgent=True)


@shared_task(**_EVALUATION)
def evaluate_workers_urgent(worker_ids: list[int], scheduled: str | None = None) -> int:
    """The sweeper's re-enqueued urgent evaluations, on the "urgent" queue."""
    return services.evaluations_run(worker_ids=worker_ids, urgent=True, scheduled=scheduled)


@shared_task(acks_late=True)
def sweep_evaluations() -> tuple[int, int]:
    """Beat, every few seconds: re-enqueue what the outbox says is overdue."""
    return services.evaluations_sweep()


@shared_task(acks_late=True)
def escalate_overdue() -> int:
    return services.alerts_escalate_overdue()


@shared_task(acks_late=True)
def check_signals() -> int:
    return services.signals_check()


@shared_task(acks_late=True)
def evaluate_on_shift() -> int:
    """Periodic sweep: time alone changes some verdicts (a fall with no
    movement, a condition that has cleared long enough to resolve)."""
    from django.conf import settings

    from alerts.models import Alert, AlertStatus
    from healthhub.dispatch import enqueue

    ids = sorted(set(Alert.objects.exclude(status=AlertStatus.RESOLVED).values_list("worker_id", flat=True)))
    size = settings.ALERTS["EVALUATE_BATCH"]
    for start in range(0, len(ids), size):
        enqueue(evaluate_workers_every, ids[start : start + size])
    return len(ids)


@shared_task(**_EVALUATION)
def evaluate_workers_every(worker_ids: list[int]) -> int:
    """Evaluate all of ``worker_ids``, pending readings or not."""
    return services.evaluations_run(worker_ids=worker_ids, every_worker=True)


@shared_task(acks_late=True)
def refresh_baselines() -> int:
    from workers.selectors import workers_with_consent

    ids = list(workers_with_consent().values_list("pk", flat=True))
    for worker_id in ids:
        refresh_baseline.delay(worker_id)
    return len(ids)


@shared_task(acks_late=True)
def refresh_baseline(worker_id: int) -> None:
    services.baseline_refresh(worker_id=worker_id)
    services.worker_acclimatization_infer(worker_id=worker_id)


@shared_task(bind=True, acks_late=True, max_retries=5)
def send_notification(self, notification_id: int) -> str:
    """Send one owed message (alerts.notify.services). A failure is recorded
    on the row with its next attempt time, and retried then; should this
    retry be lost with Redis, the sweeper finds the row."""
    from alerts.notify.services import notification_send

    status = notification_send(notification_id=notification_id)
    if status == "pending" and not self.request.is_eager:
        from alerts.models import Notification

        due = Notification.objects.filter(pk=notification_id).values_list("next_attempt_at", flat=True).first()
        raise self.retry(eta=due)
    return status


@shared_task(acks_late=True)
def sweep_notifications() -> int:
    from alerts.notify.services import notifications_sweep

    return notifications_sweep()
