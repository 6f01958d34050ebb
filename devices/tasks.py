from celery import shared_task

from devices.retention import readings_enforce_retention


@shared_task(acks_late=True)
def enforce_retention() -> int:
    """Periodic: roll up and delete raw readings past their retention period."""
    return readings_enforce_retention().readings_removed
