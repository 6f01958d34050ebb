from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from devices.models import Device, DeviceStatus, Reading
from devices.tokens import token_hash
from workers.models import Worker


def device_by_token(token: str) -> Device | None:
    """The active device this token was issued to, or None (unknown or revoked)."""
    if not token or len(token) > 200:
        return None
    return (
        Device.objects.select_related("worker").filter(token_hash=token_hash(token), status=DeviceStatus.ACTIVE).first()
    )


def readings_for_worker(worker: Worker, *, metric: str | None, start: datetime, end: datetime) -> QuerySet[Reading]:
    """A worker's readings in [start, end), oldest first. The caller has
    already checked that the requesting user may see this worker."""
    qs = Reading.objects.filter(worker=worker, measured_at__gte=start, measured_at__lt=end)
    if metric:
        qs = qs.filter(metric=metric)
    return qs.order_by("measured_at", "metric")


def latest_values(worker: Worker) -> list[Reading]:
    """The newest reading of each metric for ``worker``, one index probe per metric."""
    from devices.protocol import METRICS

    latest = []
    for metric in METRICS:
        reading = Reading.objects.filter(worker=worker, metric=metric).order_by("-measured_at").first()
        if reading is not None:
            latest.append(reading)
    return latest
