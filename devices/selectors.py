from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from devices.buckets import bucketed, buckets_merge, summaries_bucketed
from devices.models import Device, DeviceStatus, Reading, ReadingHour, ReadingMinute
from devices.protocol import METRICS
from devices.tokens import token_hash
from devices.windows import floor_to
from workers.models import Worker, WorkerEvent, WorkerEventKind


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


# Summaries a chart may read, coarsest first: (model, its time field, seconds).
_SUMMARIES = ((ReadingHour, "hour", 3600), (ReadingMinute, "minute", 60))


def readings_buckets(worker: Worker, *, metric: str | None, start: datetime, end: datetime, seconds: int) -> list[dict]:
    """A worker's readings in [start, end) as min, max, mean and count per
    metric and ``seconds``-wide bucket, oldest first.

    Long charts read summaries, not raw readings: the part of the range that
    hour summaries cover (for buckets of whole hours), then what minute
    summaries cover (whole minutes), then the raw readings from there on. A
    summary source covers up to the end of its newest row: days are
    summarised once closed (devices.partitions, PostgreSQL) and readings
    past the retention period only live on as minutes (devices.retention).
    The caller has already checked that the requesting user may see this
    worker."""
    parts: list[list[dict]] = []
    cut = start

    def raw(until: datetime) -> list[dict]:
        return bucketed(readings_for_worker(worker, metric=metric, start=cut, end=until), seconds)

    for model, field, step in _SUMMARIES:
        if seconds % step or cut >= end:
            continue
        newest = _newest(model, field, worker.pk, [metric] if metric else list(METRICS), end)
        if newest is None:
            continue
        # Only whole summary rows inside the range: the part of a step the
        # range starts or ends inside is read raw.
        first = _ceil(cut, step)
        covered = min(floor_to(end, step), newest + timedelta(seconds=step))
        if covered <= first:
            continue
        if first > cut:
            parts.append(raw(first))
        rows = model.objects.filter(worker=worker, **{f"{field}__gte": first, f"{field}__lt": covered})
        if metric:
            rows = rows.filter(metric=metric)
        parts.append(summaries_bucketed(rows, field, seconds))
        cut = covered
    if cut < end:
        parts.append(raw(end))
    return buckets_merge(parts)


def _ceil(at: datetime, step: int) -> datetime:
    floor = floor_to(at, step)
    return floor if floor == at else floor + timedelta(seconds=step)


def _newest(model: type, field: str, worker_id: int, metrics: list[str], before: datetime) -> datetime | None:
    """The newest ``field`` of a worker's ``model`` rows of ``metrics``
    before ``before``: one backward step of the primary key (worker, metric,
    time) per metric, where a max over the worker would read every summary
    of theirs (a month of minutes). On PostgreSQL one query takes the steps."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(field)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT max(n.at) FROM unnest(%s::text[]) AS m(metric) CROSS JOIN LATERAL "
                f"(SELECT {column} AS at FROM {table} WHERE worker_id = %s AND metric = m.metric AND {column} < %s "
                f"ORDER BY {column} DESC LIMIT 1) AS n",
                [metrics, worker_id, before],
            )
            return cursor.fetchone()[0]
    newest = None
    for metric in metrics:
        rows = model.objects.filter(worker_id=worker_id, metric=metric, **{f"{field}__lt": before})
        at = rows.order_by(f"-{field}").values_list(field, flat=True).first()
        if at is not None and (newest is None or at > newest):
            newest = at
    return newest


def latest_values(worker: Worker) -> list[Reading]:
    """The newest reading of each metric for ``worker``, one index probe per metric."""
    latest = []
    for metric in METRICS:
        reading = Reading.objects.filter(worker=worker, metric=metric).order_by("-measured_at").first()
        if reading is not None:
            latest.append(reading)
    return latest


def devices_newly_linked(worker: Worker, now: datetime) -> dict[int, datetime]:
    """The worker's devices linked to them, or given a new key, less than
    DEVICE_NEW_LINK_HOURS ago (device id -> when): their readings may not be
    the worker's yet (a wearable provisioned by someone else, or worn by
    someone else), and the clinicians' page says so."""
    since = now - timedelta(hours=settings.DEVICE_NEW_LINK_HOURS)
    linked: dict[str, datetime] = {}
    events = WorkerEvent.objects.filter(
        worker=worker, kind__in=[WorkerEventKind.DEVICE_LINKED, WorkerEventKind.DEVICE_NEW_TOKEN], at__gte=since
    ).values_list("detail", "at")
    for serial, at in events:
        linked[serial] = max(at, linked.get(serial, at))
    return {device.pk: linked[device.serial] for device in worker.devices.all() if device.serial in linked}
