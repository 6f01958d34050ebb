"""The database decides what still needs evaluating (devices.models.EvaluationDue):
recorded with the readings, claimed by one evaluation at a time, cleared when
evaluated, and swept up when the request to evaluate was lost."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert
from devices.models import EvaluationDue
from devices.protocol import Limits, ValidReading
from devices.services import (
    batch_receive,
    device_provision,
    evaluations_claim,
    evaluations_release,
    readings_store,
)

pytestmark = pytest.mark.django_db


def store(device, readings, received_at=None):
    return readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(i, m, float(v), at) for i, (m, v, at) in enumerate(readings)],
        received_at=received_at or timezone.now(),
    )


def due(worker) -> EvaluationDue:
    return EvaluationDue.objects.get(worker=worker)


@pytest.fixture
def broker_down(monkeypatch):
    """Every enqueue fails, as with Redis down; the fast path's breaker is
    reset before and after so that tests do not see each other's outages."""

    def refuse(task, *args):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("healthhub.dispatch.enqueue", refuse)
    services._fast_path.resume_at = 0.0
    services._fast_path.down = False
    yield
    services._fast_path.resume_at = 0.0
    services._fast_path.down = False


def test_stored_readings_are_marked_for_evaluation_in_the_same_transaction(alice_device):
    device, _ = alice_device
    now = timezone.now()
    with pytest.raises(RuntimeError), transaction.atomic():
        store(device, [("heart_rate", 80, now)])
        assert due(device.worker).pending_since is not None
        raise RuntimeError("the transaction fails after the insert")
    assert not EvaluationDue.objects.exists()
    assert store(device, [("sos", 1, now)], received_at=now).accepted == 1
    row = due(device.worker)
    assert (row.pending_since, row.urgent_since, row.version, row.urgent_version) == (now, now, 1, 1)


def test_an_evaluation_clears_what_it_covered_and_a_second_one_does_nothing(alice_device):
    device, _ = alice_device
    store(device, [("sos", 1, timezone.now())])
    assert tasks.evaluate_worker_urgent(device.worker_id) == 1
    assert list(Alert.objects.values_list("kind", flat=True)) == ["sos"]
    row = due(device.worker)
    assert (row.pending_since, row.urgent_since, row.claim) == (None, None, None)
    assert row.evaluated_at is not None
    assert tasks.evaluate_worker_urgent(device.worker_id) == 0  # a duplicate, a redelivery
    assert tasks.evaluate_workers([device.worker_id]) == 0
    assert Alert.objects.count() == 1


def test_a_worker_claimed_by_one_evaluation_is_not_taken_by_another_until_its_lease_runs_out(alice_device, broker_down):
    device, _ = alice_device
    store(device, [("heart_rate", 80, timezone.now())])
    now = timezone.now()
    lease = timedelta(seconds=15)
    first = evaluations_claim(worker_ids=[device.worker_id], token="a", now=now, lease=lease)
    assert [c.worker_id for c in first] == [device.worker_id]
    assert evaluations_claim(worker_ids=[device.worker_id], token="b", now=now, lease=lease) == []
    # The first evaluator died: after its lease another may take the worker.
    later = now + timedelta(seconds=16)
    assert len(evaluations_claim(worker_ids=[device.worker_id], token="c", now=later, lease=lease)) == 1


def test_readings_stored_while_an_evaluation_runs_stay_pending_and_an_sos_among_them_is_evaluated_at_once(
    alice_device, broker_down
):
    device, _ = alice_device
    store(device, [("heart_rate", 80, timezone.now())])
    claimed_at = timezone.now()
    claims = evaluations_claim(worker_ids=[device.worker_id], token="t", now=claimed_at, lease=timedelta(seconds=15))
    store(device, [("sos", 1, timezone.now())])  # committed during the evaluation
    still_urgent = evaluations_release(claims=claims, token="t", claimed_at=claimed_at, now=timezone.now())
    assert still_urgent == {device.worker_id}
    row = due(device.worker)
    assert row.pending_since == claimed_at and row.urgent_since == claimed_at
    # evaluations_run loops on such workers itself, without waiting for the sweeper.
    assert services.evaluations_run(worker_ids=[device.worker_id]) == 1
    assert list(Alert.objects.values_list("kind", flat=True)) == ["sos"]
    assert due(device.worker).pending_since is None


def test_one_release_compares_each_worker_with_its_own_claim(alice_device, bob, charlie, broker_down):
    # Three claims of different versions released together (PostgreSQL: one
    # statement joining the claims as arrays; SQLite: the ORM's CASE): the
    # first worker is done, the second got readings meanwhile, the third an
    # SOS meanwhile. A release never touches a row another evaluation holds.
    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    device_c, _ = device_provision(serial="C-1", worker=charlie)
    a, b, c = device_a.worker_id, bob.pk, charlie.pk
    now = timezone.now()
    for device in (device_a, device_b, device_c):
        store(device, [("heart_rate", 80, now)])
    lease = timedelta(seconds=15)
    earlier = evaluations_claim(worker_ids=[b], token="p", now=timezone.now(), lease=lease)
    store(device_b, [("heart_rate", 81, now + timedelta(seconds=1))])  # during an earlier evaluation
    evaluations_release(claims=earlier, token="p", claimed_at=now, now=timezone.now())
    claimed_at = timezone.now()
    claims = evaluations_claim(worker_ids=[a, b, c], token="t", now=claimed_at, lease=lease)
    assert [(claim.worker_id, claim.version) for claim in claims] == [(a, 1), (b, 2), (c, 1)]
    store(device_b, [("heart_rate", 82, now + timedelta(seconds=2))])
    store(device_c, [("sos", 1, now + timedelta(seconds=2))])
    done_at = timezone.now()
    assert evaluations_release(claims=claims, token="t", claimed_at=claimed_at, now=done_at) == {c}

    def state():
        return {
            r.worker_id: (r.pending_since, r.urgent_since, r.urgent_version, r.claim, r.evaluated_at)
            for r in EvaluationDue.objects.all()
        }

    assert state() == {
        a: (None, None, None, None, done_at),
        b: (claimed_at, None, None, None, done_at),
        c: (claimed_at, claimed_at, 2, None, done_at),
    }
    held = evaluations_claim(worker_ids=[b, c], token="u", now=done_at, lease=lease)
    before = state()
    assert evaluations_release(claims=held, token="t", claimed_at=done_at, now=timezone.now()) == set()
    assert state() == before


def test_a_failed_evaluation_gives_its_claims_back_and_keeps_the_readings_pending(
    alice_device, broker_down, monkeypatch
):
    device, _ = alice_device
    store(device, [("sos", 1, timezone.now())])

    def fail(**kwargs):
        raise RuntimeError("the database went away mid-evaluation")

    monkeypatch.setattr(services, "workers_evaluate", fail)
    with pytest.raises(RuntimeError):
        services.evaluations_run(worker_ids=[device.worker_id], urgent=True)
    row = due(device.worker)
    assert (row.claim, row.claimed_until) == (None, None)
    assert row.urgent_since is not None
    monkeypatch.undo()
    services._fast_path.resume_at = 0.0
    assert services.evaluations_run(worker_ids=[device.worker_id], urgent=True) == 1
    assert Alert.objects.filter(kind="sos").count() == 1


def test_an_sos_whose_request_was_lost_is_raised_by_the_sweeper(alice_device, broker_down, monkeypatch, caplog):
    device, _ = alice_device
    now = timezone.now()
    caplog.set_level(logging.ERROR, logger="alerts.services")
    limits = Limits.from_settings()
    for seq, metric in enumerate(("sos", "heart_rate")):
        message = {"type": "readings", "seq": seq, "readings": [{"metric": metric, "value": 1, "at": now.isoformat()}]}
        batch_receive(device_id=device.pk, worker_id=device.worker_id, message=message, limits=limits)
        services._fast_path.resume_at = 0.0  # tried again for the second batch, and fails again
    assert not Alert.objects.exists()  # the request never reached a queue
    assert [r.message for r in caplog.records].count(
        "evaluation requests cannot be enqueued (Redis is down); the sweeper will re-enqueue them"
    ) == 1  # one line per outage, not one per batch
    monkeypatch.undo()  # the broker is back
    stored_at = due(device.worker).urgent_since
    # Not yet overdue: the fast path may still be on its way.
    assert services.evaluations_sweep(now=stored_at + timedelta(seconds=4)) == (0, 0)
    assert services.evaluations_sweep(now=stored_at + timedelta(seconds=5)) == (1, 0)
    assert list(Alert.objects.values_list("kind", "severity")) == [("sos", "critical")]
    assert due(device.worker).pending_since is None
    assert services.evaluations_sweep(now=stored_at + timedelta(seconds=60)) == (0, 0)


def test_the_sweeper_does_not_enqueue_twice_what_it_reserved_for_a_task_still_queued(alice_device, broker_down):
    device, _ = alice_device
    now = timezone.now()
    store(device, [("heart_rate", 80, now)], received_at=now)
    calls = []
    from healthhub import dispatch

    original = dispatch.enqueue
    dispatch.enqueue = lambda task, *args: calls.append((task.name, args))
    try:
        overdue_at = now + timedelta(seconds=60)
        assert services.evaluations_sweep(now=overdue_at) == (0, 1)
        assert services.evaluations_sweep(now=overdue_at + timedelta(seconds=5)) == (0, 0)
        # The queued task was lost with Redis: its reservation runs out and it is enqueued again.
        assert services.evaluations_sweep(now=overdue_at + timedelta(seconds=16)) == (0, 1)
    finally:
        dispatch.enqueue = original
    assert [name for name, _ in calls] == ["alerts.tasks.evaluate_workers"] * 2
    token = calls[-1][1][1]
    assert tasks.evaluate_workers([device.worker_id], token) == 1
    assert due(device.worker).pending_since is None


def test_a_resent_batch_of_an_unevaluated_sos_gets_it_evaluated(alice_device, broker_down, monkeypatch):
    device, _ = alice_device
    message = {
        "type": "readings",
        "seq": 7,
        "readings": [{"metric": "sos", "value": 1, "at": timezone.now().isoformat()}],
    }
    ack, _ = batch_receive(
        device_id=device.pk, worker_id=device.worker_id, message=message, limits=Limits.from_settings()
    )
    assert ack["accepted"] == 1 and not Alert.objects.exists()
    monkeypatch.undo()
    services._fast_path.resume_at = 0.0
    # The device never got that ack and sends the batch again.
    ack, _ = batch_receive(
        device_id=device.pk, worker_id=device.worker_id, message=message, limits=Limits.from_settings()
    )
    assert (ack["accepted"], ack["duplicates"]) == (0, 1)
    assert list(Alert.objects.values_list("kind", flat=True)) == ["sos"]
    # Evaluated now: a third copy asks for nothing.
    ack, _ = batch_receive(
        device_id=device.pk, worker_id=device.worker_id, message=message, limits=Limits.from_settings()
    )
    assert due(device.worker).pending_since is None


def test_many_workers_are_evaluated_in_one_task_with_the_verdicts_of_one_at_a_time(alice_device, bob, charlie):
    now = timezone.now()
    devices = [alice_device[0]] + [device_provision(serial=f"X-{w.pk}", worker=w)[0] for w in (bob, charlie)]
    low = [("spo2", 87, now - timedelta(seconds=30 * i)) for i in range(12)]
    for device, readings in zip(devices, [low, [("sos", 1, now)], [("heart_rate", 70, now)]], strict=True):
        store(device, readings)
        services.worker_evaluate(worker_id=device.worker_id)
    one_by_one = sorted(Alert.objects.values_list("worker_id", "kind", "severity"))
    Alert.objects.all().delete()
    assert services.evaluations_run(worker_ids=[d.worker_id for d in devices], every_worker=True) == 3
    assert sorted(Alert.objects.values_list("worker_id", "kind", "severity")) == one_by_one
    assert {k for _, k, _ in one_by_one} == {"hypoxemia", "sos"}


def test_the_lag_from_storage_to_evaluation_is_recorded(alice_device, broker_down, monkeypatch):
    from alerts.lag import EVALUATION_LAG

    device, _ = alice_device
    before = EVALUATION_LAG.snapshot(urgent=True)
    stored_at = timezone.now() - timedelta(seconds=3)
    store(device, [("sos", 1, stored_at)], received_at=stored_at)
    monkeypatch.undo()
    services.evaluations_run(worker_ids=[device.worker_id], urgent=True)
    after = EVALUATION_LAG.snapshot(urgent=True)
    assert after["count"] == before["count"] + 1
    # About 3 s: counted from the 5 s bucket up, not in the 2 s one.
    assert after["buckets"][2] == before["buckets"][2]
    assert after["buckets"][5] == before["buckets"][5] + 1
    assert 3 <= after["sum"] - before["sum"] < 5


def test_an_sos_buffered_for_11_minutes_raises_a_delayed_alert_with_both_times(alice_device):
    device, _ = alice_device
    now = timezone.now()
    pressed = now - timedelta(minutes=11)
    message = {"type": "readings", "seq": 1, "readings": [{"metric": "sos", "value": 1, "at": pressed.isoformat()}]}
    ack, _ = batch_receive(
        device_id=device.pk, worker_id=device.worker_id, message=message, limits=Limits.from_settings()
    )
    assert ack["accepted"] == 1
    alert = Alert.objects.get()
    assert (alert.kind, alert.severity) == ("sos", "critical")
    assert alert.message == "SOS pressed earlier, received late: check the time it was pressed"
    assert alert.evidence["happened_at"] == pressed.isoformat()
    assert 0 <= (timezone.now() - timezone.datetime.fromisoformat(alert.evidence["received_at"])).total_seconds() < 5
    assert alert.evidence["delay_seconds"] >= 660


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_claim_locks_workers_in_the_order_ingestion_does_and_never_deadlocks_with_it(alice_device, bob):
    # Ingestion writes the outbox in worker order. A claim that locked its
    # rows in the order it found them (here bob's row, stored first, comes
    # first in the table) would hold bob's while waiting for alice's, which
    # a group commit holds while it waits for bob's: a deadlock, which
    # PostgreSQL breaks after a second by failing one of them.
    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    now = timezone.now()
    store(device_b, [("heart_rate", 80, now)])
    store(device_a, [("heart_rate", 80, now)])
    assert alice_device[0].worker_id < bob.pk
    first_locked, claim_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    claimed: list = []

    def group_commit() -> None:
        try:
            with transaction.atomic():
                EvaluationDue.objects.filter(worker_id=device_a.worker_id).update(version=F("version") + 1)
                first_locked.set()
                claim_started.wait(5)
                time.sleep(0.3)  # the claim is waiting for alice's row by now
                EvaluationDue.objects.filter(worker_id=bob.pk).update(version=F("version") + 1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def claim() -> None:
        try:
            first_locked.wait(5)
            claim_started.set()
            claimed.extend(
                evaluations_claim(
                    worker_ids=[device_a.worker_id, bob.pk], token="t", now=timezone.now(), lease=timedelta(seconds=30)
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=group_commit), threading.Thread(target=claim)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(c.worker_id for c in claimed) == [device_a.worker_id, bob.pk]
    assert {c.version for c in claimed} == {2}  # claimed after the group commit's update
