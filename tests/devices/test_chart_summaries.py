"""Long charts read summaries (devices.selectors.readings_buckets): once
older days are summarised, a worker's chart is the same as it was from the
raw readings, even when those are gone; on PostgreSQL whole-hour buckets
come from the hour summaries of each closed day."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from devices import partitions
from devices.models import Reading, ReadingHour, ReadingMinute
from devices.protocol import ValidReading
from devices.retention import readings_enforce_retention
from devices.selectors import readings_buckets
from devices.services import readings_store

pytestmark = pytest.mark.django_db
RESOLUTIONS = [7200, 3600, 1800, 420, 60]  # 420 s: midnight falls inside a bucket


def seed(device, start: datetime, end: datetime) -> None:
    readings, at, i = [], start, 0
    while at < end:
        readings += [
            ("heart_rate", 60 + i % 17, at),
            ("spo2", 95 + i % 4, at + timedelta(seconds=1)),
            ("steps", i % 30, at + timedelta(seconds=2)),
        ]
        at += timedelta(minutes=4, seconds=7)
        i += 1
    for first in range(0, len(readings), 500):
        chunk = readings[first : first + 500]
        readings_store(
            device_id=device.pk,
            worker_id=device.worker_id,
            readings=[ValidReading(n, m, float(v), t) for n, (m, v, t) in enumerate(chunk)],
            received_at=end,
            touch=False,
        )


def summarise_before(today: datetime) -> None:
    """What production does to the days before ``today``: on PostgreSQL each
    closed day is rolled up (and here its raw readings are then deleted, to
    show that the chart no longer reads them); on SQLite retention turns
    them into minutes and deletes them."""
    if connection.vendor == "postgresql":
        for days in range(1, 5):
            partitions.day_roll_up((today - timedelta(days=days)).date())
        Reading.objects.filter(measured_at__lt=today).delete()
    else:
        readings_enforce_retention(now=today + timedelta(days=1), batch_size=500, max_seconds=60)


def comparable(buckets: list[dict]) -> list[tuple]:
    return [(b["metric"], b["start"], b["min"], b["max"], b["count"], round(b["mean"], 9)) for b in buckets]


@pytest.mark.parametrize("metric", [None, "heart_rate"])
def test_a_chart_is_the_same_from_summaries_as_from_raw_readings(alice_device, settings, metric):
    device, _ = alice_device
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 1}
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    start = today - timedelta(days=3, hours=5)
    seed(device, start, now)
    worker = device.worker
    before = {
        seconds: comparable(readings_buckets(worker, metric=metric, start=start, end=now, seconds=seconds))
        for seconds in RESOLUTIONS
    }
    raw_before = Reading.objects.count()

    summarise_before(today)

    assert Reading.objects.count() < raw_before / 4  # the older days are not raw any more
    assert ReadingMinute.objects.exists()
    if connection.vendor == "postgresql":
        assert ReadingHour.objects.filter(hour__lt=today).count() == 3 * (3 * 24 + 5)
    for seconds in RESOLUTIONS:
        after = comparable(readings_buckets(worker, metric=metric, start=start, end=now, seconds=seconds))
        assert after == before[seconds], seconds


def test_summaries_serve_only_the_part_they_cover(alice_device):
    """A range that ends before the newest summary, and one that starts
    after it, read what they should (and a non-minute width reads raw)."""
    device, _ = alice_device
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    seed(device, today - timedelta(days=2), now)
    worker = device.worker
    early = (today - timedelta(days=2), today - timedelta(days=1, hours=3))
    late = (today, now)
    before = {
        span: comparable(readings_buckets(worker, metric=None, start=span[0], end=span[1], seconds=3600))
        for span in (early, late)
    }
    summarise_before(today)
    for span in (early, late):
        assert (
            comparable(readings_buckets(worker, metric=None, start=span[0], end=span[1], seconds=3600)) == before[span]
        )
    odd = readings_buckets(worker, metric=None, start=late[0], end=late[1], seconds=90)
    assert sum(b["count"] for b in odd) == Reading.objects.filter(measured_at__gte=today).count()
    assert not math.isnan(sum(b["mean"] for b in odd))


def test_a_range_that_starts_and_ends_inside_a_summarised_hour_counts_only_its_own_readings(alice_device, settings):
    """The hour (or minute) the range starts or ends inside is read raw:
    its summary row holds readings outside the range."""
    device, _ = alice_device
    settings.RETENTION = {**settings.RETENTION, "RAW_DAYS": 1}
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    seed(device, today - timedelta(days=3), now)
    worker = device.worker
    start = today - timedelta(days=2, hours=-5, minutes=-3, seconds=-20)  # 05:03:20, two days ago
    end = today - timedelta(days=1, hours=-7, minutes=-41)  # 07:41 yesterday
    before = {s: comparable(readings_buckets(worker, metric=None, start=start, end=end, seconds=s)) for s in (3600, 60)}
    if connection.vendor == "postgresql":
        for days in range(1, 4):
            partitions.day_roll_up((today - timedelta(days=days)).date())
        # Keep the raw readings here: the range's partial hours must come from them.
    for seconds, expected in before.items():
        assert comparable(readings_buckets(worker, metric=None, start=start, end=end, seconds=seconds)) == expected
    first = readings_buckets(worker, metric="heart_rate", start=start, end=end, seconds=3600)[0]
    assert (
        first["count"]
        == Reading.objects.filter(
            device=device,
            metric="heart_rate",
            measured_at__gte=start,
            measured_at__lt=start.replace(minute=0, second=0) + timedelta(hours=1),
        ).count()
    )
