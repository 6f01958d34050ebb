"""The day partitions of the readings table on PostgreSQL (migration 0004):
created ahead, rolled up into minute summaries once their day has closed,
and dropped whole when they pass the retention period. On SQLite there are
none and every function here does nothing.

A partition is named ``devices_reading_pYYYYMMDD`` and holds the readings
measured on that UTC day; ``devices_reading_default`` holds anything that
arrives for a day without one (it should stay empty: maintenance creates the
partitions of the backfill window and a week ahead every hour).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction

from devices.models import Reading, ReadingHour, ReadingMinute

log = logging.getLogger(__name__)

TABLE = Reading._meta.db_table
DEFAULT = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# Days of partitions kept ready ahead of today.
AHEAD_DAYS = 7
# Seconds a DETACH or DROP may wait for a lock (ingestion's transactions
# are short); past that it tries again (see _locking).
LOCK_TIMEOUT_S = 2
# deadlock_detected, lock_not_available: a DDL step that meets them retries.
_LOCK_CONFLICTS = {"40P01", "55P03"}


@dataclass
class PartitionReport:
    created: list[date] = field(default_factory=list)
    moved_from_default: int = 0
    rolled_up: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)
    drop_seconds: list[float] = field(default_factory=list)


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        return cursor.fetchone() is not None


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def partition_days() -> list[date]:
    """The days that have a partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := _NAME.match(n)))


def partition_create(day: date) -> int:
    """Create and attach the partition of ``day``, moving into it any of its
    readings that the default partition took meanwhile (one transaction).
    Returns the number of readings moved."""
    name, (start, end) = partition_name(day), _bounds(day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE measured_at >= %s AND measured_at < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return moved


def day_roll_up(day: date) -> int:
    """Write the minute and hour summaries of ``day``; see range_roll_up."""
    return range_roll_up(*_bounds(day))


def range_roll_up(start: datetime, end: datetime) -> int:
    """Write the minute summaries of the readings in [start, end) (whole
    hours), and the hour summaries from those, replacing any written before
    (so it may run again when late readings came in). Returns the number of
    minute rows written."""
    minutes = ReadingMinute._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {minutes} (worker_id, metric, minute, count, mean, min, max) "
            "SELECT worker_id, metric, date_trunc('minute', measured_at), count(*), avg(value), min(value), max(value) "
            f"FROM {TABLE} WHERE measured_at >= %s AND measured_at < %s GROUP BY 1, 2, 3 "
            "ON CONFLICT (worker_id, metric, minute) DO UPDATE SET "
            "count = excluded.count, mean = excluded.mean, min = excluded.min, max = excluded.max",
            [start, end],
        )
        written = cursor.rowcount
        hours_roll_up(start, end)
        return written


def hours_roll_up(start: datetime, end: datetime) -> int:
    """Write the hour summaries of [start, end) (whole hours) from the
    minute summaries there, replacing any written before."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ReadingHour._meta.db_table} (worker_id, metric, hour, count, mean, min, max) "
            "SELECT worker_id, metric, date_trunc('hour', minute), sum(count), sum(mean * count) / sum(count), "
            f"min(min), max(max) FROM {ReadingMinute._meta.db_table} WHERE minute >= %s AND minute < %s "
            "GROUP BY 1, 2, 3 ON CONFLICT (worker_id, metric, hour) DO UPDATE SET "
            "count = excluded.count, mean = excluded.mean, min = excluded.min, max = excluded.max",
            [start, end],
        )
        return cursor.rowcount


def _locking(sql: str, *, attempts: int = 5) -> None:
    """Run one DDL statement that needs strong locks beside ingestion: it
    waits at most LOCK_TIMEOUT_S for a lock, and when it loses a deadlock or
    times out it steps aside (ingestion's transaction goes on) and tries
    again after a short pause. The last failure is raised."""
    for attempt in range(attempts):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'")
                cursor.execute(sql)
            return
        except OperationalError as exc:
            if attempt == attempts - 1 or getattr(exc.__cause__, "sqlstate", None) not in _LOCK_CONFLICTS:
                raise
            log.info("%s: lock conflict (%s), trying again", sql, exc.__cause__.sqlstate)
            time.sleep(0.1 * 2**attempt)


def partition_drop(day: date) -> None:
    """Roll the day up one last time, then detach its partition and drop
    it: no row-by-row DELETE, no vacuum debt.

    Dropping a table with foreign keys locks every table they point at
    (devices, workers), which ingestion's foreign-key checks lock too, in
    their own order: one DROP holding both can deadlock with a writer (CI saw
    it). So the detached table's foreign keys go one per transaction (one
    referenced table each, no cycle possible), then the bare table. Each step
    waits briefly and gives way to ingestion (see ``_locking``)."""
    day_roll_up(day)
    name = partition_name(day)
    if day in partition_days():
        _locking(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass(%s)",
            [name],
        )
        foreign_keys = [row[0] for row in cursor.fetchall()]
    for constraint in foreign_keys:
        _locking(f"ALTER TABLE {name} DROP CONSTRAINT {connection.ops.quote_name(constraint)}")
    _locking(f"DROP TABLE IF EXISTS {name}")


def detached_days() -> list[date]:
    """Days whose partition was detached but not dropped (a drop that gave
    way to ingestion too often): the next run drops them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)",
            [f"{TABLE}_p%"],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := _NAME.match(n)))


def rolled_up_key(day: date, phase: str) -> str:
    return f"devices:rolled-up:{day.isoformat()}:{phase}"


def _roll_up_once(day: date, phase: str) -> bool:
    """Roll ``day`` up unless this phase already did (remembered in the
    cache; forgetting only costs a repeat)."""
    key = rolled_up_key(day, phase)
    if cache.get(key):
        return False
    day_roll_up(day)
    cache.set(key, True, timeout=(settings.DEVICE_PROTOCOL["BACKFILL_DAYS"] + 3) * 86400)
    return True


# Each (hourly) run rolls up this many of today's closed hours (more if
# runs were missed: from the end of the last hours it rolled up).
HOURS_ROLLED_UP_AGAIN = 2
HOURS_DONE_KEY = "devices:hours-rolled-up-until"


def partitions_maintain(*, now: datetime | None = None) -> PartitionReport:
    """Hourly (beat): partitions from the backfill window to AHEAD_DAYS
    ahead exist; each day is rolled up once closed, and again the day it
    leaves the backfill window (no reading for it is accepted after that);
    today's last closed hours are rolled up; partitions past the raw
    retention period are dropped."""
    report = PartitionReport()
    if not is_partitioned():
        return report
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    backfill = settings.DEVICE_PROTOCOL["BACKFILL_DAYS"]
    existing = set(partition_days())
    for offset in range(-backfill - 1, AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if day not in existing:
            report.moved_from_default += partition_create(day)
            report.created.append(day)
            existing.add(day)
    # Every closed day of the backfill window once (yesterday, normally; the
    # days before it too if beat was down when they closed, since charts
    # read summaries up to the newest one), and each day again as it leaves
    # the window.
    closed = [(today - timedelta(days=n), "closed") for n in range(backfill, 0, -1)]
    for day, phase in [*closed, (today - timedelta(days=backfill + 1), "final")]:
        if day in existing and _roll_up_once(day, phase):
            report.rolled_up.append(day)
    # Today's closed hours too (the last two, in case a run was missed), so
    # that a chart reads at most the current hour's raw readings; the day is
    # rolled up whole again once it has closed, late readings included.
    # From where the last run stopped if runs were missed (or from midnight
    # when that is not known): charts read summaries up to the newest one.
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    since = hour - timedelta(hours=HOURS_ROLLED_UP_AGAIN)
    done = cache.get(HOURS_DONE_KEY)
    if done is None or done < since:
        since = done or midnight
    since = max(since, midnight)
    if since < hour:
        range_roll_up(since, hour)
        cache.set(HOURS_DONE_KEY, hour, timeout=2 * 86400)
    report.dropped, report.drop_seconds = partitions_drop_expired(now=now, existing=existing)
    return report


def partitions_drop_expired(*, now: datetime, existing: set[date] | None = None) -> tuple[list[date], list[float]]:
    """Drop the partitions whose whole day is older than the raw retention
    period. Returns the days dropped and the seconds each drop took."""
    if not is_partitioned():
        return [], []
    existing = (set(partition_days()) if existing is None else existing) | set(detached_days())
    cutoff = now - timedelta(days=settings.RETENTION["RAW_DAYS"])
    dropped: list[date] = []
    seconds: list[float] = []
    for day in sorted(existing):
        if _bounds(day)[1] > cutoff:
            break
        started = time.monotonic()
        try:
            partition_drop(day)
        except OperationalError:
            log.warning("the readings partition of %s gave way to ingestion; the next run drops it", day.isoformat())
            break
        seconds.append(time.monotonic() - started)
        dropped.append(day)
        log.info("dropped the readings partition of %s in %.3f s", day.isoformat(), seconds[-1])
    return dropped, seconds
