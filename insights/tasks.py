from celery import shared_task

from insights.services import notice_push, signals_detect, snapshots_take
from workers.models import Site


@shared_task(acks_late=True)
def detect_outbreaks() -> int:
    """Periodic: outbreak signals for every site (idempotent)."""
    return sum(len(signals_detect(site=site)) for site in Site.objects.all())


@shared_task(acks_late=True)
def push_notice(notice_id: int) -> int:
    """A new site notice to the lock screens of the site's workers."""
    return notice_push(notice_id=notice_id)


@shared_task(acks_late=True)
def take_snapshots() -> int:
    """Periodic: snapshots of every site's newly closed days and weeks for HR
    (each taken once; a run with nothing newly closed writes nothing)."""
    return sum(len(snapshots_take(site=site)) for site in Site.objects.all())
