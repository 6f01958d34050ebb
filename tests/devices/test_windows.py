"""The risk engine's windows kept by ingestion (devices.windows): what a
store adds, that a re-sent batch adds nothing, pruning, and the migration's
backfill of readings stored before the buckets existed."""

from __future__ import annotations

import importlib
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps

from alerts.selectors import window_load
from devices.models import WindowBucket
from devices.protocol import ValidReading
from devices.services import readings_store
from devices.windows import KEEP_MINUTES, KEEP_RAW, buckets_prune

NOW = datetime(2026, 11, 28, 9, 0, 30, tzinfo=UTC)


def store(device, readings, received_at=NOW):
    return readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, m, float(v), at) for i, (m, v, at) in enumerate(readings)],
        received_at=received_at,
    )


def buckets(worker):
    return sorted(
        WindowBucket.objects.filter(worker=worker).values_list("span", "metric", "start", "count", "total", "last_at")
    )


@pytest.mark.django_db
def test_a_store_adds_its_readings_to_five_second_and_minute_buckets(alice_device):
    device, _ = alice_device
    at = NOW.replace(second=0)
    store(
        device,
        [("heart_rate", 80, at), ("heart_rate", 90, at + timedelta(seconds=2)),
         ("heart_rate", 70, at + timedelta(seconds=6)), ("steps", 4, at), ("steps", 6, at + timedelta(seconds=3)),
         ("ambient_temp", 30, at), ("sos", 1, at)],
    )  # fmt: skip
    second = timedelta(seconds=1)
    assert buckets(device.worker) == [
        (5, "ambient_temp", at, 1, 30.0, at),
        (5, "heart_rate", at, 2, 170.0, at + 2 * second),
        (5, "heart_rate", at + 5 * second, 1, 70.0, at + 6 * second),
        (5, "steps", at, 2, 10.0, at + 3 * second),
        (60, "heart_rate", at, 3, 240.0, at + 6 * second),
        (60, "steps", at, 2, 10.0, at + 3 * second),
    ]  # no minute of the ambient temperature (not in the history), no SOS bucket (read as sent)
    window = window_load(device.worker_id, at + 10 * second)
    assert [(s.at, s.value) for s in window.series["heart_rate"]] == [(at + 2 * second, 85.0), (at + 6 * second, 70.0)]
    assert [(s.at, s.value) for s in window.series["steps"]] == [(at + 3 * second, 10.0)]
    assert [s.value for s in window.series["sos"]] == [1.0]


@pytest.mark.django_db
def test_a_resent_batch_adds_nothing_and_a_later_one_adds_to_the_same_bucket(alice_device):
    device, _ = alice_device
    at = NOW.replace(second=0)
    first = [("heart_rate", 80, at), ("heart_rate", 100, at + timedelta(seconds=1))]
    store(device, first)
    assert store(device, first).duplicates == 2
    assert buckets(device.worker)[0][3:5] == (2, 180.0)
    store(device, [("heart_rate", 90, at + timedelta(seconds=4))])
    assert buckets(device.worker)[0][3:5] == (3, 270.0)


@pytest.mark.django_db
def test_pruning_forgets_what_no_window_reaches(alice_device):
    device, _ = alice_device
    old_raw = NOW - KEEP_RAW - timedelta(minutes=1)
    old_minute = NOW - KEEP_MINUTES - timedelta(minutes=1)
    store(device, [("heart_rate", 70, old_minute), ("heart_rate", 72, old_raw), ("heart_rate", 74, NOW)])
    assert len(buckets(device.worker)) == 6
    assert buckets_prune(NOW) == 3  # both raw buckets past KEEP_RAW, the minute past KEEP_MINUTES
    assert [(span, start) for span, _, start, *_ in buckets(device.worker)] == [
        (5, NOW.replace(second=30)),
        (60, old_raw.replace(second=0)),
        (60, NOW.replace(second=0)),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_buckets_of_readings_stored_before_them(alice_device):
    device, _ = alice_device
    now = datetime.now(UTC)
    store(device, [("heart_rate", 60 + i, now - timedelta(seconds=7 * i)) for i in range(40)], received_at=now)
    expected = buckets(device.worker)
    WindowBucket.objects.all().delete()
    importlib.import_module("devices.migrations.0006_window_buckets").backfill(apps, None)
    assert buckets(device.worker) == expected


@pytest.mark.django_db
def test_stored_buckets_are_the_window_arithmetic_of_what_was_inserted(alice_device, bob):
    # PostgreSQL computes the buckets in SQL, in the statement that inserts
    # the readings (buckets_add_sql); SQLite with _sums. Either way they are
    # the sums of the readings inserted, duplicates and re-sent ones left out.
    from devices.services import BatchToStore, device_provision, readings_store_many
    from devices.windows import EVENT_METRICS, HISTORY_METRICS, _sums

    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    rng = random.Random(20261128)
    metrics = [*HISTORY_METRICS, *EVENT_METRICS, "ambient_temp", "resp_rate"]
    start = NOW - timedelta(minutes=3)

    def readings(n: int) -> list[ValidReading]:
        # Times on and around bucket boundaries, microseconds included.
        return [
            ValidReading(
                i,
                rng.choice(metrics),
                float(rng.randint(1, 100)),
                start + timedelta(seconds=rng.choice([0, 4, 5, 59, 60, 61, 119]), microseconds=rng.randint(0, 999_999)),
            )
            for i in range(n)
        ]

    first = [
        BatchToStore(device_a.pk, device_a.worker_id, readings(60)),
        BatchToStore(device_b.pk, bob.pk, readings(60)),
    ]
    readings_store_many(batches=first, received_at=NOW)
    # A group with a re-sent batch, and one overlapping both earlier ones.
    again = [first[0], BatchToStore(device_b.pk, bob.pk, first[1].readings[:30] + readings(40))]
    readings_store_many(batches=again, received_at=NOW)

    distinct = {
        (batch.device_id, r.metric, r.at): (batch.device_id, batch.worker_id, r.metric, r.value, r.at)
        for group in (again, first)  # the first copy stored wins: it is the one kept
        for batch in reversed(group)
        for r in reversed(batch.readings)
    }
    expected = sorted(
        (worker, span, metric, start, count, pytest.approx(total), last_at)
        for (worker, span, metric, start), (count, total, last_at) in _sums(list(distinct.values())).items()
    )
    stored = sorted(
        WindowBucket.objects.values_list("worker_id", "span", "metric", "start", "count", "total", "last_at")
    )
    assert stored == expected
    assert {span for _, span, *_ in stored} == {5, 60}
