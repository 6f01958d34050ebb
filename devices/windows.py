"""The risk engine's window of a worker's readings, kept up as readings are
stored (WindowBucket) so that an evaluation costs the same whatever the
readings' rate and however long the worker has been streaming.

An evaluation (alerts.selectors.windows_load) sees:

- the last RAW_SPAN in RAW_BUCKET_S buckets from the start of its minute:
  one sample per metric and bucket, at the bucket's last reading, with the
  mean of its values (steps: their sum). A wearable that reports every 5 s
  or less often is seen reading by reading;
- before that, back to HISTORY_SPAN, per-minute means of HISTORY_METRICS
  (per-minute step counts);
- SOS and falls as stored (EVENT_METRICS are not bucketed).

``raw_buckets`` is the same arithmetic for samples
held in memory (the replay, simulation/replay.py), and
tests/simulation/test_replay_matches_server.py holds the two together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection

from devices.models import WindowBucket
from devices.sql import floor_sql, in_list

RAW_SPAN = timedelta(minutes=20)
HISTORY_SPAN = timedelta(hours=3)
HISTORY_METRICS = ("heart_rate", "steps", "core_temp", "spo2")
EVENT_METRICS = ("sos", "fall")
RAW_BUCKET_S = 5
MINUTE_S = 60
# Buckets are kept this long past the window (late readings of a buffered
# device land in buckets a little older than the window's start).
KEEP_RAW = RAW_SPAN + timedelta(minutes=10)
KEEP_MINUTES = HISTORY_SPAN + timedelta(minutes=30)


# A reading as ingestion stores it: (device_id, worker_id, metric, value, measured_at).
Row = tuple[int, int, str, float, datetime]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(at: datetime, seconds: int) -> datetime:
    """The start (UTC) of the ``seconds``-wide step, counted from the epoch,
    that holds ``at``; exact (timedelta arithmetic, no float)."""
    return (at - (at - _EPOCH) % timedelta(seconds=seconds)).astimezone(UTC)


def raw_from(now: datetime) -> datetime:
    """Where the raw part of the window starts: the minute of now - RAW_SPAN."""
    return floor_to(now - RAW_SPAN, MINUTE_S)


def bucket_value(metric: str, total: float, count: int) -> float:
    """A bucket's sample: steps are a count, anything else a mean."""
    return total if metric == "steps" else total / count


def _sums(readings: list[Row]) -> dict[tuple[int, int, str, datetime], list]:
    """(worker, span, metric, start) -> [count, total, last_at]. Old
    readings (a device's backlog) get buckets too: an evaluation may look
    back at their time, and pruning forgets them."""
    sums: dict[tuple[int, int, str, int], list] = {}
    for _, worker_id, metric, value, at in readings:
        if metric in EVENT_METRICS:
            continue
        second = int(at.timestamp())
        for span in (RAW_BUCKET_S, MINUTE_S) if metric in HISTORY_METRICS else (RAW_BUCKET_S,):
            key = (worker_id, span, metric, second - second % span)
            held = sums.get(key)
            if held is None:
                sums[key] = [1, value, at]
            else:
                held[0] += 1
                held[1] += value
                if at > held[2]:
                    held[2] = at
    return {(w, span, m, datetime.fromtimestamp(start, UTC)): held for (w, span, m, start), held in sums.items()}


def buckets_add_sql(source: str) -> str:
    """The same arithmetic as ``_sums`` and ``buckets_add``, in SQL: an
    upsert of the buckets of the rows of ``source`` (a query or a CTE name
    with worker_id, metric, value and measured_at), in key order. PostgreSQL
    ingestion runs it as a CTE of the statement that inserts the readings,
    over what that INSERT returned (a duplicate adds nothing)."""
    table = connection.ops.quote_name(WindowBucket._meta.db_table)
    events, history = in_list(EVENT_METRICS), in_list(HISTORY_METRICS)

    def span(seconds: int, where: str) -> str:
        start = floor_sql("measured_at", seconds)
        return (
            f"SELECT worker_id, {seconds}::smallint, metric, {start}, count(*), sum(value), max(measured_at) "
            f"FROM {source} WHERE {where} GROUP BY 1, 3, 4"
        )

    return (
        f"INSERT INTO {table} (worker_id, span, metric, start, count, total, last_at) "
        f"{span(RAW_BUCKET_S, f'metric NOT IN ({events})')} UNION ALL {span(MINUTE_S, f'metric IN ({history})')} "
        "ORDER BY 1, 2, 3, 4 "
        "ON CONFLICT (worker_id, span, metric, start) DO UPDATE SET "
        f"count = {table}.count + excluded.count, total = {table}.total + excluded.total, "
        f"last_at = GREATEST({table}.last_at, excluded.last_at)"
    )


def buckets_add(readings: list[Row]) -> None:
    """Add newly stored readings to their workers' buckets, in the caller's
    transaction (one upsert per thousand buckets, in key order: two stores
    that share a worker lock its rows in the same order and never deadlock).
    SQLite's way; PostgreSQL ingestion runs ``buckets_add_sql`` instead."""
    sums = _sums(readings)
    if not sums:
        return
    table = connection.ops.quote_name(WindowBucket._meta.db_table)
    keys = sorted(sums)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for first in range(0, len(keys), 1000):
            chunk = keys[first : first + 1000]
            params: list[object] = []
            for worker_id, span, metric, start in chunk:
                count, total, last_at = sums[(worker_id, span, metric, start)]
                params += [worker_id, span, metric, adapt(start), count, total, adapt(last_at)]
            cursor.execute(
                f"INSERT INTO {table} (worker_id, span, metric, start, count, total, last_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                + " ON CONFLICT (worker_id, span, metric, start) DO UPDATE SET "
                "count = count + excluded.count, total = total + excluded.total, "
                "last_at = MAX(last_at, excluded.last_at)",
                params,
            )


def buckets_prune(now: datetime) -> int:
    """Delete the buckets no window reaches any more; returns how many."""
    raw = WindowBucket.objects.filter(span=RAW_BUCKET_S, start__lt=now - KEEP_RAW).delete()[0]
    return raw + WindowBucket.objects.filter(span=MINUTE_S, start__lt=now - KEEP_MINUTES).delete()[0]


# --- The same arithmetic on samples held in memory (the replay) -----------------


def raw_buckets(metric: str, samples: list[tuple[datetime, float]], now: datetime) -> list[tuple[datetime, float]]:
    """The raw part of the window from (at, value) pairs held in memory,
    oldest first: what windows_load reads from the buckets at ``now``."""
    first, last = raw_from(now), floor_to(now, RAW_BUCKET_S)
    sums = _sums([(0, 0, metric, value, at) for at, value in samples])
    return [
        (held[2], bucket_value(metric, held[1], held[0]))
        for (_, span, _, start), held in sorted(sums.items())
        if span == RAW_BUCKET_S and first <= start <= last
    ]
