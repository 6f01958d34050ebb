"""Retention of raw readings: after the retention period (90 days by
default) readings are rolled up into per-minute summaries (ReadingMinute,
kept longer) and removed.

On PostgreSQL, where readings are partitioned by day (devices.partitions),
a day past the period is rolled up and its partition detached and dropped
whole. What remains is removed in bounded batches: on SQLite (one table)
all old readings, on PostgreSQL those the default partition took. Each batch
is one short transaction over at most ``batch_size`` old rows, which new
readings (always recent) never touch, so ingestion is never blocked for long.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from devices import partitions
from devices.models import Reading, ReadingHour, ReadingMinute


@dataclass
class RetentionReport:
    batches: int = 0
    readings_removed: int = 0
    partitions_dropped: int = 0
    drop_seconds: list[float] = field(default_factory=list)
    minutes_written: int = 0
    summaries_removed: int = 0
    batch_seconds: list[float] = field(default_factory=list)

    @property
    def slowest_batch(self) -> float:
        return max(self.batch_seconds, default=0.0)


def _merge_sql(table: str) -> str:
    """Upsert of minute summaries that merges with a summary already there
    (the rows of one minute can fall into two batches)."""
    lo, hi = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    return (
        f"INSERT INTO {table} (worker_id, metric, minute, count, mean, min, max) VALUES {{rows}} "
        "ON CONFLICT (worker_id, metric, minute) DO UPDATE SET "
        f"mean = ({table}.mean * {table}.count + excluded.mean * excluded.count) / ({table}.count + excluded.count), "
        f"count = {table}.count + excluded.count, "
        f"min = {lo}({table}.min, excluded.min), max = {hi}({table}.max, excluded.max)"
    )


def _aware(value: object) -> datetime:
    """A timestamp as the database returned it (aware on PostgreSQL, naive
    UTC or text on SQLite), as an aware UTC datetime."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if timezone.is_aware(at) else at.replace(tzinfo=UTC)


def _roll_up_batch(before: datetime, batch_size: int, table: str) -> tuple[int, int]:
    """Roll up and delete at most ``batch_size`` readings of ``table``
    older than ``before``, in one transaction. Returns (readings removed,
    minutes written)."""
    ops = connection.ops
    reading = ops.quote_name(table)
    summary = ops.quote_name(ReadingMinute._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # Claim the rows: on PostgreSQL, concurrent runs skip each other's
        # rows (two runs must never summarise the same reading twice); on
        # SQLite the IMMEDIATE transaction already serialises writers.
        claim = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"SELECT device_id, metric, measured_at, worker_id, value FROM {reading} "
            f"WHERE measured_at < %s LIMIT %s{claim}",
            [ops.adapt_datetimefield_value(before), batch_size],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0, 0
        minutes: dict[tuple, list[float]] = defaultdict(list)
        keys: list[object] = []
        for device_id, metric, measured_at, worker_id, value in rows:
            at = _aware(measured_at)
            minutes[(worker_id, metric, at.replace(second=0, microsecond=0))].append(value)
            keys += [device_id, metric, ops.adapt_datetimefield_value(at)]
        params: list[object] = []
        for (worker_id, metric, minute), values in minutes.items():
            params += [worker_id, metric, ops.adapt_datetimefield_value(minute)]
            params += [len(values), sum(values) / len(values), min(values), max(values)]
        placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(minutes))
        cursor.execute(_merge_sql(summary).format(rows=placeholders), params)
        cursor.execute(
            f"DELETE FROM {reading} WHERE (device_id, metric, measured_at) IN "
            f"(VALUES {', '.join(['(%s, %s, %s)'] * len(rows))})",
            keys,
        )
        return cursor.rowcount, len(minutes)


def readings_enforce_retention(
    *, now: datetime | None = None, batch_size: int | None = None, max_seconds: float | None = None
) -> RetentionReport:
    """Roll up and delete raw readings older than the retention period, then
    delete minute summaries older than theirs. Stops after ``max_seconds``
    (the next run carries on), so one run never hogs the database."""
    conf = settings.RETENTION
    now = now or timezone.now()
    batch_size = batch_size or conf["BATCH_SIZE"]
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else conf["MAX_SECONDS"])
    report = RetentionReport()
    before = now - timedelta(days=conf["RAW_DAYS"])
    table = Reading._meta.db_table
    if partitions.is_partitioned():
        dropped, report.drop_seconds = partitions.partitions_drop_expired(now=now)
        report.partitions_dropped = len(dropped)
        # Whole days went with their partitions (rolled up by day); only the
        # default partition's stragglers are left for batches.
        table = partitions.DEFAULT
    while time.monotonic() < deadline:
        started = time.monotonic()
        removed, written = _roll_up_batch(before, batch_size, table)
        if not removed:
            break
        report.batches += 1
        report.readings_removed += removed
        report.minutes_written += written
        report.batch_seconds.append(time.monotonic() - started)
    summaries_before = now - timedelta(days=conf["SUMMARY_DAYS"])
    report.summaries_removed = ReadingMinute.objects.filter(minute__lt=summaries_before).delete()[0]
    report.summaries_removed += ReadingHour.objects.filter(hour__lt=summaries_before).delete()[0]
    return report
