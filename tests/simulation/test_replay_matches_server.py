"""The replay (simulation.replay) judges shifts without a database, and its
figures (false warnings per worker-shift, detection delays) stand for the
server's only if it sees what the server sees and keeps alerts as the
server keeps them. Fed the same input, the two must agree:

- the window: ``_Series.window`` against ``alerts.selectors.window_load``
  (raw readings for the recent past, per-minute means before that) on the
  same readings, stored through ingestion;
- the lifecycle: ``_Lifecycle`` against ``alerts.services.alert_apply``
  (open, update, hold, clear, auto-resolve) on the same verdicts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import Alert, AlertEvent, AlertStatus
from alerts.rules.base import Evaluation, Severity, State
from alerts.selectors import HISTORY_SPAN, window_load
from alerts.services import alert_apply, auto_resolve_after
from devices.protocol import ValidReading
from devices.services import device_provision, readings_store
from simulation.physiology import Episode, Physiology, Scenario, WorkerProfile
from simulation.replay import ShiftResult, _Lifecycle, _Series

START = datetime(2026, 7, 29, 0, 0, tzinfo=UTC)


def rounded(series: dict) -> dict:
    return {metric: [(s.at, round(s.value, 6)) for s in samples] for metric, samples in series.items()}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_the_replays_window_is_the_servers_window(alice, seed):
    """About 3.5 hours of a simulated wearable (a fall and an SOS among
    them, at times that do not fall on whole seconds of the minute; the last
    25 minutes several readings a second, as a dense sensor sends them),
    stored through ingestion and added to the replay's series; at each
    minute the two windows hold the same samples per metric."""
    rng = random.Random(seed)
    device, _ = device_provision(serial="R-1", worker=alice)
    model = Physiology(
        WorkerProfile.random(rng, age=40, shift_pattern="day", crew=0),
        rng,
        episode=Episode(Scenario.FALL, START + timedelta(hours=3, minutes=10)),
    )
    series = _Series()
    at = START
    end = START + HISTORY_SPAN + timedelta(minutes=35)
    seq = 0
    sos_at = START + timedelta(hours=3, minutes=20)
    while at <= end:
        sample = model.sample(at)
        values = dict(sample.values) if sample.transmitting else {}
        if sos_at is not None and at >= sos_at:
            values["sos"], sos_at = 1.0, None
        if values:
            seq += 1
            readings_store(
                device_id=device.pk,
                worker_id=alice.pk,
                readings=[ValidReading(seq * 100 + i, m, float(v), at) for i, (m, v) in enumerate(values.items())],
                received_at=at,
            )
            series.add(at, values)
        dense = at >= end - timedelta(minutes=25)
        at += timedelta(seconds=rng.choice((0.3, 0.7, 1.1) if dense else (23, 30, 30, 37)))

    checked, with_events = 0, 0
    now = START + HISTORY_SPAN + timedelta(minutes=1)
    while now <= end - timedelta(minutes=1):
        server = rounded(window_load(alice.pk, now).series)
        replay = rounded(series.window(now).series)
        assert replay == server, f"the windows differ at {now:%H:%M}"
        checked += 1
        with_events += "sos" in server
        now += timedelta(minutes=1)
    assert checked >= 30
    assert len(server["heart_rate"]) < 20 * 60 / 5 + 200  # the dense part read in 5-second buckets
    assert with_events >= 10  # the SOS was in the compared windows


def verdicts(rng: random.Random, minutes: int) -> list[tuple[int, Evaluation]]:
    """A random run of verdicts for two kinds, one a minute each, in stretches
    long enough for clear timers to run out now and then."""
    out: list[tuple[int, Evaluation]] = []
    for kind in ("heat_strain", "hypoxemia"):
        minute = 0
        while minute < minutes:
            state = rng.choice((State.ACTIVE, State.CLEAR, State.CLEAR, State.HOLD))
            severity = rng.choice((Severity.WARNING, Severity.URGENT))
            for _ in range(rng.randint(1, 14)):
                if state is State.ACTIVE:
                    out.append((minute, Evaluation.active(kind, severity, f"{kind} {severity.label}")))
                elif state is State.CLEAR:
                    out.append((minute, Evaluation.clear(kind)))
                else:
                    out.append((minute, Evaluation.hold(kind)))
                minute += 1
    return sorted(out, key=lambda item: item[0])


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_replays_lifecycle_is_the_servers(alice, seed):
    """The same verdicts, minute by minute, through alert_apply and through
    the replay's lifecycle: the same alerts open (kind, severity, minute),
    the same ones auto-resolve, and the same kinds are open at every step."""
    rng = random.Random(seed)
    result = ShiftResult()
    lifecycle = _Lifecycle(result)
    assert lifecycle.resolve_after == auto_resolve_after()
    for minute, verdict in verdicts(rng, 240):
        now = START + timedelta(minutes=minute)
        alert_apply(worker_id=alice.pk, evaluation=verdict, now=now)
        lifecycle.apply(
            verdict.kind, verdict.state, verdict.severity.label if verdict.severity else None, verdict.message, now
        )
        open_on_server = set(
            Alert.objects.filter(worker=alice).exclude(status=AlertStatus.RESOLVED).values_list("kind", flat=True)
        )
        assert set(lifecycle.open) == open_on_server, f"minute {minute}, {verdict.kind} {verdict.state}"
    opened = sorted(
        AlertEvent.objects.filter(alert__worker=alice, action=AlertEvent.Action.OPENED).values_list(
            "alert__kind", "detail__severity", "at"
        )
    )
    assert sorted((o.kind, o.severity, o.at) for o in result.opened) == opened
    assert len(opened) >= 4  # the run opened, resolved and opened again
    assert Alert.objects.filter(worker=alice, auto_resolved=True).exists()
