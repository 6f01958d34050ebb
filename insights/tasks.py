from celery import shared_task

from insights.services import signals_detect
from workers.models import Site


@shared_task(acks_late=True)
def detect_outbreaks() -> int:
    """Periodic: outbreak signals for every site (idempotent)."""
    return sum(len(signals_detect(site=site)) for site in Site.objects.all())
