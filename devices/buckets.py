"""Time buckets computed in the database, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db.models import F, Func, IntegerField, QuerySet, Sum
from django.db.models.aggregates import Avg, Count, Max, Min

_RESOLUTION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_RESOLUTION_S = 10
MAX_RESOLUTION_S = 7 * 86400


def parse_resolution(raw: str) -> int:
    """'30s', '5m', '1h', '1d' -> seconds; ValueError with a readable message otherwise."""
    match = _RESOLUTION.match(raw.strip())
    if not match:
        raise ValueError("resolution must look like 30s, 5m, 1h or 1d")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not MIN_RESOLUTION_S <= seconds <= MAX_RESOLUTION_S:
        raise ValueError(f"resolution must be between {MIN_RESOLUTION_S}s and 7d")
    return seconds


class EpochBucket(Func):
    """The start of the ``seconds``-wide bucket holding a timestamp, as epoch seconds."""

    output_field = IntegerField()

    def __init__(self, expression, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_sql(self, compiler, connection, **extra):  # pragma: no cover - every backend below overrides
        raise NotImplementedError(f"EpochBucket is not implemented for {connection.vendor}")

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        # Django stores UTC text on SQLite; strftime('%s') reads it as UTC.
        return f"((CAST(strftime('%%s', {sql}) AS INTEGER) / {self.seconds}) * {self.seconds})", params

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(FLOOR(EXTRACT(EPOCH FROM {sql}) / {self.seconds}) * {self.seconds})::bigint", params


def bucketed(qs: QuerySet, seconds: int) -> list[dict]:
    """min, max, mean and count per (metric, bucket), oldest first."""

    rows = (
        qs.order_by()
        .annotate(bucket=EpochBucket("measured_at", seconds))
        .values("metric", "bucket")
        .annotate(min=Min("value"), max=Max("value"), mean=Avg("value"), count=Count("*"))
        .order_by("bucket", "metric")
    )
    return [_bucket(row) for row in rows]


def summaries_bucketed(qs: QuerySet, field: str, seconds: int) -> list[dict]:
    """The same from summary rows (ReadingMinute, ReadingHour: count, mean,
    min and max per ``field``), weighting each row's mean by its count."""
    rows = (
        qs.order_by()
        .annotate(bucket=EpochBucket(field, seconds))
        .values("metric", "bucket")
        .annotate(min=Min("min"), max=Max("max"), total=Sum(F("mean") * F("count")), count=Sum("count"))
        .order_by("bucket", "metric")
    )
    return [_bucket({**row, "mean": row["total"] / row["count"]}) for row in rows]


def buckets_merge(parts: list[list[dict]]) -> list[dict]:
    """Buckets from consecutive sources (summaries for the older part of a
    range, raw readings for the rest), oldest first; a bucket that two
    sources share (the boundary falls inside it) is combined."""
    merged: dict[tuple[datetime, str], dict] = {}
    for part in parts:
        for bucket in part:
            key = (bucket["start"], bucket["metric"])
            held = merged.get(key)
            if held is None:
                merged[key] = dict(bucket)
                continue
            count = held["count"] + bucket["count"]
            held["mean"] = (held["mean"] * held["count"] + bucket["mean"] * bucket["count"]) / count
            held["count"] = count
            held["min"] = min(held["min"], bucket["min"])
            held["max"] = max(held["max"], bucket["max"])
    return [merged[key] for key in sorted(merged)]


def _bucket(row: dict) -> dict:
    return {
        "metric": row["metric"],
        "start": datetime.fromtimestamp(row["bucket"], UTC),
        "min": row["min"],
        "max": row["max"],
        "mean": row["mean"],
        "count": row["count"],
    }
