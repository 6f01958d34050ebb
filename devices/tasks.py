from celery import shared_task

from devices.partitions import partitions_maintain, summaries_roll_up
from devices.retention import readings_enforce_retention


@shared_task(acks_late=True)
def enforce_retention() -> int:
    """Periodic: roll up and delete raw readings past their retention period."""
    return readings_enforce_retention().readings_removed


@shared_task(acks_late=True)
def maintain_partitions() -> int:
    """Periodic: the readings' day partitions ahead exist, expired days
    are dropped (PostgreSQL; nothing on SQLite)."""
    return len(partitions_maintain().created)


@shared_task(acks_late=True)
def roll_up_summaries() -> int:
    """Periodic: the minute and hour summaries of the hours that have
    closed, and of the hours late readings came into (PostgreSQL)."""
    report = summaries_roll_up()
    return len(report.days) + report.late_hours


@shared_task(acks_late=True)
def prune_window_buckets() -> int:
    """Periodic: forget the window buckets no evaluation reaches any more."""
    from django.utils import timezone

    from devices.windows import buckets_prune

    return buckets_prune(timezone.now())
