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


@shared_task(acks_late=True)
def prune_window_buckets() -> int:
    """Periodic: forget the window buckets no evaluation reaches any more."""
    from django.utils import timezone

    from devices.windows import buckets_prune

    return buckets_prune(timezone.now())
