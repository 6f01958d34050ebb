"""The engine's Celery side: coalesced evaluation requests, evaluation from
stored readings (in order or not), signal checks, baselines, escalation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert, Baseline
from devices.models import Device
from devices.protocol import ValidReading
from devices.services import readings_store
from workers.models import Shift

pytestmark = pytest.mark.django_db


def store(device, readings, received_at=None):
    return readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, m, float(v), at) for i, (m, v, at) in enumerate(readings)],
        received_at=received_at or timezone.now(),
    )


def low_spo2(now, minutes=6):
    return [("spo2", 87, now - timedelta(seconds=30 * i)) for i in range(minutes * 2)]


def test_evaluation_requests_are_rate_limited_per_worker_and_urgent_ones_jump_the_queue(alice, monkeypatch, settings):
    settings.ALERTS = {**settings.ALERTS, "EVALUATE_EVERY_S": 30, "URGENT_COALESCE_S": 2}
    calls = []
    monkeypatch.setattr("healthhub.dispatch.enqueue", lambda task, *args: calls.append((task.name, args)))
    for urgent in (False, True):
        cache.delete(tasks.pending_key(alice.pk, urgent=urgent))
    assert services.evaluation_request(worker_id=alice.pk) is True
    assert services.evaluation_request(worker_id=alice.pk) is False
    assert services.evaluation_request(worker_id=alice.pk, urgent=True) is True
    assert services.evaluation_request(worker_id=alice.pk, urgent=True) is False
    assert calls == [
        ("alerts.tasks.evaluate_worker", (alice.pk,)),
        ("alerts.tasks.evaluate_worker_urgent", (alice.pk,)),
    ]
    # the flag expires (in the cache, and in what this process remembers of
    # the flags it raised): the next batch after it asks again
    from healthhub import flags

    cache.delete(tasks.pending_key(alice.pk))
    later = flags.time.monotonic() + 31
    monkeypatch.setattr(flags.time, "monotonic", lambda: later)
    assert services.evaluation_request(worker_id=alice.pk) is True


def test_urgent_evaluations_go_to_the_urgent_queue(settings):
    from healthhub.celery import app

    route = app.amqp.router.route({}, "alerts.tasks.evaluate_worker_urgent")
    assert route["queue"].name == "urgent"
    assert app.amqp.router.route({}, "alerts.tasks.evaluate_worker")["queue"].name == "celery"


def test_evaluate_worker_task_raises_the_alert_from_stored_readings(alice_device):
    device, _ = alice_device
    store(device, low_spo2(timezone.now()))
    assert tasks.evaluate_worker(device.worker_id) >= 1
    assert list(Alert.objects.values_list("kind", "severity")) == [("hypoxemia", "urgent")]
    tasks.evaluate_worker(device.worker_id)  # again: idempotent
    assert Alert.objects.count() == 1


def test_late_and_out_of_order_readings_give_the_same_alerts(alice_device, bob):
    from devices.services import device_provision

    device, _ = alice_device
    other, _ = device_provision(serial="B-1", worker=bob)
    now = datetime.now(UTC).replace(microsecond=0)
    series = low_spo2(now, 8) + [("heart_rate", 95, now - timedelta(seconds=30 * i)) for i in range(16)]
    store(device, series)
    shuffled = series[:]
    random.Random(3).shuffle(shuffled)
    for start in range(0, len(shuffled), 5):  # small batches, arriving late and in any order
        store(other, shuffled[start : start + 5], received_at=now + timedelta(minutes=2))
    services.worker_evaluate(worker_id=device.worker_id, now=now)
    services.worker_evaluate(worker_id=bob.pk, now=now)

    def verdicts(worker_id):
        return sorted(Alert.objects.filter(worker_id=worker_id).values_list("kind", "severity", "evidence"))

    assert verdicts(device.worker_id) == verdicts(bob.pk) != []


def test_signal_lost_for_a_worker_on_shift_and_back(alice_device):
    device, _ = alice_device
    now = timezone.now()
    Shift.objects.create(worker=device.worker, starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=6))
    Device.objects.filter(pk=device.pk).update(last_seen_at=now - timedelta(minutes=11))
    assert services.signals_check(now=now) == 1
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity) == ("signal_lost", "warning")
    for minutes in (1, 12):  # data flows again; clear for 10 minutes resolves it
        Device.objects.filter(pk=device.pk).update(last_seen_at=now + timedelta(minutes=minutes))
        services.signals_check(now=now + timedelta(minutes=minutes))
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.auto_resolved


def test_silence_off_shift_is_not_signal_loss(alice_device):
    device, _ = alice_device
    now = timezone.now()
    Shift.objects.create(worker=device.worker, starts_at=now - timedelta(hours=10), ends_at=now - timedelta(hours=1))
    Device.objects.filter(pk=device.pk).update(last_seen_at=now - timedelta(hours=1))
    assert services.signals_check(now=now) == 0
    assert not Alert.objects.exists()


def test_baseline_from_resting_minutes(alice_device):
    device, _ = alice_device
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    readings = []
    for minute in range(240):  # four hours: resting at 60 +- 2, then an hour of work at 110
        at = now - timedelta(minutes=300 - minute)
        readings.append(("heart_rate", 60 + (minute % 5) - 2, at))
        readings.append(("steps", 0, at))
    for minute in range(60):
        at = now - timedelta(minutes=60 - minute)
        readings += [("heart_rate", 110, at), ("steps", 40, at)]
    for start in range(0, len(readings), 400):
        store(device, readings[start : start + 400])
    baseline = services.baseline_refresh(worker_id=device.worker_id, now=now)
    # the first two resting minutes have no settled history: 238 resting minutes
    assert baseline.minutes == 238
    assert baseline.rest_hr_median == 60.0
    assert 1.0 <= baseline.rest_hr_spread <= 3.0
    assert Baseline.objects.get(worker_id=device.worker_id).rest_hr_median == 60.0


def test_too_little_rest_makes_no_baseline(alice_device):
    device, _ = alice_device
    now = timezone.now()
    store(device, [("heart_rate", 60, now - timedelta(minutes=m)) for m in range(30)])
    baseline = services.baseline_refresh(worker_id=device.worker_id, now=now)
    assert baseline.rest_hr_median is None


def test_escalation_task(alice, clara):
    from alerts.rules.base import Evaluation, Severity

    services.alert_apply(
        worker_id=alice.pk,
        evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"),
        now=timezone.now() - timedelta(minutes=3),
    )
    assert tasks.escalate_overdue() == 1
    assert tasks.escalate_overdue() == 0


def hot_days(device, now, days, minutes=125, air=30.0):
    """``days`` days of ``minutes`` minutes each at ``air`` °C, one reading a minute."""
    readings = [
        ("ambient_temp", air, now - timedelta(days=day, hours=3) + timedelta(minutes=m))
        for day in range(days)
        for m in range(minutes)
    ]
    for start in range(0, len(readings), 400):
        store(device, readings[start : start + 400])


@pytest.mark.parametrize(("days", "acclimatized"), [(10, True), (9, None)])
def test_ten_hot_days_in_two_weeks_settle_an_unknown_acclimatization(alice_device, days, acclimatized):
    device, _ = alice_device
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hot_days(device, now, days)
    assert services.worker_acclimatization_infer(worker_id=device.worker_id, now=now) is acclimatized
    device.worker.refresh_from_db()
    assert device.worker.acclimatized is acclimatized


def test_short_hot_spells_do_not_count(alice_device):
    device, _ = alice_device
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    hot_days(device, now, 14, minutes=100)
    assert services.worker_acclimatization_infer(worker_id=device.worker_id, now=now) is None


def test_a_recorded_acclimatization_is_never_overwritten(alice_device):
    device, _ = alice_device
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    type(device.worker).objects.filter(pk=device.worker_id).update(acclimatized=False)
    hot_days(device, now, 12)
    assert services.worker_acclimatization_infer(worker_id=device.worker_id, now=now) is False
    device.worker.refresh_from_db()
    assert device.worker.acclimatized is False
