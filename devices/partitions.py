"""The day partitions of the readings table on PostgreSQL (migration 0004):
created ahead, rolled up into minute and hour summaries hour by hour as
their hours close (and again for the hours late readings come into), and
dropped whole when they pass the retention period. On SQLite there are none
and every function here does nothing.

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

from devices.models import LateHour, Reading, ReadingHour, ReadingMinute
from devices.windows import floor_to

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


HOUR = 3600
# A reading is late when it arrives more than LATE_AFTER after its hour has
# closed: ingestion marks its worker's hour (LateHour) and late_hours_roll_up
# rolls that hour up again. Beat rolls each hour up once, SETTLED_AFTER after
# it closed: by then every reading that is not late has been committed
# (received at most LATE_AFTER after the close, and a group commits in
# seconds), so no reading is left out of the summaries for longer than it
# takes beat to come round.
LATE_AFTER = timedelta(minutes=2)
SETTLED_AFTER = timedelta(minutes=5)


def late_readings_before(received_at: datetime) -> datetime:
    """Readings received at ``received_at`` and measured before this are late."""
    return floor_to(received_at - LATE_AFTER, HOUR)


@dataclass
class PartitionReport:
    created: list[date] = field(default_factory=list)
    moved_from_default: int = 0
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
    with transaction.atomic(), connection.cursor() as cursor:
        return _roll_up(cursor, _RANGE, [start, end])


def late_hours_roll_up(*, limit: int = 2000) -> int:
    """Roll up again the workers' hours that late readings came into
    (LateHour), ``limit`` at a time, each lot in one transaction that also
    deletes its marks (a mark written meanwhile, by a reading this roll-up
    may not see, waits for the next run). Returns the number of hours
    rolled up. Beat runs it every few minutes; nothing on SQLite."""
    if connection.vendor != "postgresql":
        return 0
    table = LateHour._meta.db_table
    done = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE (worker_id, hour) IN (SELECT worker_id, hour FROM {table} "
                "ORDER BY hour LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING worker_id, hour",
                [limit],
            )
            marks = cursor.fetchall()
            if marks:
                workers, hours = (list(column) for column in zip(*marks, strict=True))
                where = (
                    "JOIN unnest(%s::bigint[], %s::timestamptz[]) AS late(w, h) ON {table}.worker_id = late.w "
                    "AND {time} >= late.h AND {time} < late.h + interval '1 hour'"
                )
                _roll_up(cursor, where, [workers, hours])
        done += len(marks)
        if len(marks) < limit:
            return done


_RANGE = "WHERE {time} >= %s AND {time} < %s"
_REPLACE = "count = excluded.count, mean = excluded.mean, min = excluded.min, max = excluded.max"


def _roll_up(cursor, where: str, params: list) -> int:
    """Minute summaries from the readings that ``where`` selects (written
    with {table} and {time} for the source table and its time column), then
    hour summaries from the minute summaries it selects, replacing those
    written before. Returns the number of minute rows."""
    cursor.execute(
        f"INSERT INTO {ReadingMinute._meta.db_table} (worker_id, metric, minute, count, mean, min, max) "
        "SELECT worker_id, metric, date_trunc('minute', measured_at), count(*), avg(value), min(value), max(value) "
        f"FROM {TABLE} {where.format(table=TABLE, time='measured_at')} GROUP BY 1, 2, 3 "
        f"ON CONFLICT (worker_id, metric, minute) DO UPDATE SET {_REPLACE}",
        params,
    )
    written = cursor.rowcount
    _hours_roll_up(cursor, where, params)
    return written


def _hours_roll_up(cursor, where: str, params: list) -> int:
    minutes = ReadingMinute._meta.db_table
    cursor.execute(
        f"INSERT INTO {ReadingHour._meta.db_table} (worker_id, metric, hour, count, mean, min, max) "
        "SELECT worker_id, metric, date_trunc('hour', minute), sum(count), sum(mean * count) / sum(count), "
        f"min(min), max(max) FROM {minutes} {where.format(table=minutes, time='minute')} "
        f"GROUP BY 1, 2, 3 ON CONFLICT (worker_id, metric, hour) DO UPDATE SET {_REPLACE}",
        params,
    )
    return cursor.rowcount


def hours_roll_up(start: datetime, end: datetime) -> int:
    """Write the hour summaries of [start, end) (whole hours) from the
    minute summaries there, replacing any written before."""
    with transaction.atomic(), connection.cursor() as cursor:
        return _hours_roll_up(cursor, _RANGE, [start, end])


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


HOURS_DONE_KEY = "devices:hours-rolled-up-until"


def partitions_maintain(*, now: datetime | None = None) -> PartitionReport:
    """Hourly (beat): partitions from the backfill window to AHEAD_DAYS
    ahead exist; partitions past the raw retention period are dropped."""
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
    report.dropped, report.drop_seconds = partitions_drop_expired(now=now, existing=existing)
    return report


@dataclass
class RollUpReport:
    days: list[date] = field(default_factory=list)  # rolled up, wholly or in part
    late_hours: int = 0  # workers' hours rolled up again for late readings
    skipped: bool = False  # another run held the lock


# A session-level advisory lock: one roll-up at a time (two writing the same
# summaries in different orders could deadlock).
_ROLL_UP_LOCK = 0x68680001


def summaries_roll_up(*, now: datetime | None = None) -> RollUpReport:
    """Every few minutes (beat): roll up the hours that have settled since
    the last run, then the workers' hours late readings came into."""
    report = RollUpReport()
    if not is_partitioned():
        return report
    now = now or datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_ROLL_UP_LOCK])
        if not cursor.fetchone()[0]:
            report.skipped = True
            return report
        try:
            report.days = _hours_since_last_run(now, settings.DEVICE_PROTOCOL["BACKFILL_DAYS"])
            report.late_hours = late_hours_roll_up()
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_ROLL_UP_LOCK])
    return report


def _hours_since_last_run(now: datetime, backfill: int) -> list[date]:
    """Roll up the hours that have settled since the last run stopped (the
    runs a stopped beat missed included: charts read summaries up to the
    newest one, so no hour before it may stay without them), or every hour
    of the backfill window when that is not known (a new cache). One
    transaction per day. Returns the days rolled up, wholly or in part."""
    until = floor_to(now - SETTLED_AFTER, HOUR)
    first = datetime.combine(until.date() - timedelta(days=backfill), datetime.min.time(), UTC)
    done = cache.get(HOURS_DONE_KEY)
    since = first if done is None else max(done, first)
    days: list[date] = []
    while since < until:
        end = min(datetime.combine(since.date() + timedelta(days=1), datetime.min.time(), UTC), until)
        range_roll_up(since, end)
        days.append(since.date())
        since = end
        cache.set(HOURS_DONE_KEY, since, timeout=(backfill + 3) * 86400)
    return days


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
