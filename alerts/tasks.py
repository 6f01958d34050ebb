"""Celery tasks of the risk engine: thin wrappers around alerts.services.
All take primary keys, are idempotent and safe to retry (acks_late)."""

from __future__ import annotations

from celery import shared_task

from alerts import services


def pending_key(worker_id: int, urgent: bool = False) -> str:
    return f"alerts:evaluate-{'urgent' if urgent else 'pending'}:{worker_id}"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def evaluate_worker(worker_id: int) -> int:
    # The pending flag is left to expire (alerts.services.evaluation_request):
    # it limits routine evaluations to one per worker per EVALUATE_EVERY_S.
    return len(services.worker_evaluate(worker_id=worker_id))


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def evaluate_worker_urgent(worker_id: int) -> int:
    """The same evaluation, on the "urgent" queue (CELERY_TASK_ROUTES): for
    batches with an SOS or a fall, which must not wait behind routine work."""
    return len(services.worker_evaluate(worker_id=worker_id))


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
    from alerts.models import Alert, AlertStatus

    ids = set(Alert.objects.exclude(status=AlertStatus.RESOLVED).values_list("worker_id", flat=True))
    for worker_id in ids:
        evaluate_worker.delay(worker_id)
    return len(ids)


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
