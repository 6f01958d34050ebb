"""The scenario library: the simulator's physiology model (the same one
``simulate_wearables`` streams) replayed through the risk engine. Each
scripted episode raises exactly its expected alert kinds, and normal shifts
stay quiet."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulation.physiology import Scenario, WorkerProfile
from simulation.replay import measure_normal_shifts, replay_shift

# A July weekday; the day shift runs 08:00-17:00 in Seoul.
SEOUL = ZoneInfo("Asia/Seoul")
DAY = datetime(2026, 7, 29, 12, 0, tzinfo=SEOUL)
SHIFT_START = datetime(2026, 7, 29, 8, 0, tzinfo=SEOUL)
ONSET = timedelta(hours=2, minutes=10)

EXPECTED = {
    # Heat strain in a hot bay is also two hours without a long enough break
    # at a heat index over 33 °C: the rest reminder is part of the picture.
    Scenario.HEAT_STRAIN: {("heat_strain", "urgent"), ("rest_overdue", "info")},
    Scenario.HYPOXEMIA: {("hypoxemia", "warning")},
    Scenario.FALL: {("fall", "critical")},
    Scenario.FALL_NO_MOVEMENT: {("fall", "critical")},
    Scenario.SOS: {("sos", "critical")},
    Scenario.FEVER: {("fever", "warning")},
    Scenario.SIGNAL_LOSS: {("signal_lost", "warning")},
}


@pytest.mark.parametrize("scenario", list(EXPECTED))
@pytest.mark.parametrize("worker", range(3))
def test_each_scenario_raises_exactly_its_alerts(scenario, worker):
    rng = random.Random(f"scenario:{scenario}:{worker}")
    profile = WorkerProfile.random(rng, shift_pattern="day", crew=0)
    result = replay_shift(profile, rng, DAY, episode=(scenario, ONSET), artifacts=True)
    assert {(alert.kind, alert.severity) for alert in result.opened} == EXPECTED[scenario]
    for alert in result.opened:
        assert alert.at >= SHIFT_START + ONSET, "nothing before the episode"


@pytest.mark.parametrize(
    ("scenario", "messages"),
    [
        (Scenario.FALL, {"Fall detected"}),
        (Scenario.FALL_NO_MOVEMENT, {"Fall detected", "Fall with no movement"}),
    ],
)
def test_a_fall_with_no_movement_is_told_apart(scenario, messages):
    rng = random.Random("scenario:fall-still")
    profile = WorkerProfile.random(rng, shift_pattern="day", crew=0)
    result = replay_shift(profile, rng, DAY, episode=(scenario, ONSET))
    assert result.messages["fall"] == messages


def test_alerts_arrive_within_minutes_of_the_onset():
    rng = random.Random("scenario:timing")
    profile = WorkerProfile.random(rng, shift_pattern="day", crew=0)
    for scenario, within in ((Scenario.SOS, 1), (Scenario.HYPOXEMIA, 8), (Scenario.SIGNAL_LOSS, 7)):
        result = replay_shift(profile, random.Random(1), DAY, episode=(scenario, ONSET))
        first = min(alert.at for alert in result.opened)
        assert first - (SHIFT_START + ONSET) <= timedelta(minutes=within), scenario


def test_normal_shifts_raise_fewer_than_005_false_warnings_per_worker_shift():
    # 200 simulated workers, a full day shift each, with wearable artefacts
    # (single-sample SpO2 dips, heart-rate spikes, Bluetooth dropouts).
    report = measure_normal_shifts(200, DAY)
    assert report.worker_shifts == 200
    rate = report.per_worker_shift(("warning", "urgent", "critical"))
    assert rate < 0.05, report.opened
