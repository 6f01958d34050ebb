"""Retention: raw readings past their period become per-minute summaries,
in bounded batches, exactly once, while ingestion goes on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from devices.models import Reading, ReadingMinute
from devices.protocol import ValidReading
from devices.retention import readings_enforce_retention
from devices.services import readings_store

NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def store(device, readings):
    readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, m, float(v), at) for i, (m, v, at) in enumerate(readings)],
        received_at=NOW,
    )


@pytest.mark.django_db
def test_old_readings_become_minute_summaries_and_recent_ones_stay(alice_device, settings):
    settings.RETENTION = {**settings.RETENTION, "BATCH_SIZE": 7}
    device, _ = alice_device
    old = NOW - timedelta(days=91)
    # two minutes of heart rate, 12 readings each (every 5 s), 91 days ago
    store(device, [("heart_rate", 60 + i % 12, old + timedelta(seconds=5 * i)) for i in range(24)])
    store(device, [("heart_rate", 70, NOW - timedelta(days=89))])
    report = readings_enforce_retention(now=NOW)
    assert report.readings_removed == 24
    assert report.batches == 4  # 7 + 7 + 7 + 3: a minute split across batches is merged
    assert Reading.objects.count() == 1
    summaries = list(ReadingMinute.objects.order_by("minute").values_list("count", "mean", "min", "max"))
    assert summaries == [(12, 65.5, 60.0, 71.0), (12, 65.5, 60.0, 71.0)]
    # running again changes nothing
    assert readings_enforce_retention(now=NOW).readings_removed == 0
    assert ReadingMinute.objects.count() == 2


@pytest.mark.django_db
def test_summaries_expire_after_their_own_period(alice_device, settings):
    device, _ = alice_device
    ReadingMinute.objects.create(
        worker=device.worker, metric="spo2", minute=NOW - timedelta(days=800), count=1, mean=97, min=97, max=97
    )
    assert readings_enforce_retention(now=NOW).summaries_removed == 1


@pytest.mark.django_db(transaction=True)
def test_retention_runs_while_ingestion_goes_on(alice_device, settings):
    settings.RETENTION = {**settings.RETENTION, "BATCH_SIZE": 500}
    device, _ = alice_device
    old = timezone.now() - timedelta(days=100)
    for chunk in range(6):
        store(device, [("heart_rate", 70, old + timedelta(seconds=chunk * 500 + i)) for i in range(500)])
    stop = threading.Event()
    stored = []
    errors = []

    def ingest():
        try:
            start = timezone.now() - timedelta(minutes=30)
            i = 0
            while not stop.is_set() or i < 20:
                store(device, [("spo2", 97, start + timedelta(seconds=i * 25 + k)) for k in range(25)])
                stored.append(25)
                i += 1
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()

    thread = threading.Thread(target=ingest)
    thread.start()
    report = readings_enforce_retention()
    stop.set()
    thread.join(60)
    assert errors == []
    assert report.readings_removed == 3000 and report.batches == 6
    assert Reading.objects.filter(metric="spo2").count() == sum(stored)
    assert sum(ReadingMinute.objects.values_list("count", flat=True)) == 3000
