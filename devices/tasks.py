from celery import shared_task

from devices.partitions import partitions_maintain
from devices.retention import readings_enforce_retention


@shared_task(acks_late=True)
def enforce_retention() -> int:
    """Periodic: roll up and delete raw readings past their retention period."""
    return readings_enforce_retention().readings_removed


@shared_task(acks_late=True)
def maintain_partitions() -> int:
    """Periodic: the readings' day partitions ahead exist, closed days are
    rolled up, expired days dropped (PostgreSQL; nothing on SQLite)."""
    return len(partitions_maintain().created)
