"""Hypoxemia, fever and the personal-baseline illness rule, at their boundaries."""

import pytest

from alerts.rules import vitals
from alerts.rules.base import Profile, Severity, State
from alerts.rules.thresholds import DEFAULTS
from tests.alerts.windows import series, steady, window


@pytest.mark.parametrize(
    ("spo2", "state", "severity"),
    [
        (97, State.CLEAR, None),
        (94, State.CLEAR, None),  # above 91 + 2 margin
        (93, State.HOLD, None),  # inside the margin
        (92, State.HOLD, None),
        (91, State.ACTIVE, Severity.WARNING),
        (89, State.ACTIVE, Severity.WARNING),
        (88, State.ACTIVE, Severity.URGENT),
        (80, State.ACTIVE, Severity.URGENT),
    ],
)
def test_sustained_spo2_bands(spo2, state, severity):
    result = vitals.evaluate_hypoxemia(window(spo2=steady(spo2, 5)), DEFAULTS)
    assert (result.state, result.severity) == (state, severity)


def test_a_single_low_sample_never_alerts():
    result = vitals.evaluate_hypoxemia(window(spo2=series([97] * 10 + [82])), DEFAULTS)
    assert result.state is not State.ACTIVE


def test_too_short_a_dip_is_not_sustained():
    # 90 % for one minute only (3 minutes are needed)
    result = vitals.evaluate_hypoxemia(window(spo2=series([97] * 10 + [90] * 3)), DEFAULTS)
    assert result.state is not State.ACTIVE


def core_at(value, steps_per_sample=0):
    return window(core_temp=steady(value, 12), steps=steady(steps_per_sample, 12))


@pytest.mark.parametrize(("core", "state"), [(37.5, State.ACTIVE), (37.4, State.HOLD), (37.1, State.CLEAR)])
def test_fever_from_core_temp_at_rest(core, state):
    assert vitals.evaluate_fever(core_at(core), Profile(age=40), DEFAULTS).state is state


def test_a_warm_core_during_work_is_not_fever():
    # 37.65 °C while working at a moderate pace (20 steps a minute): work
    # alone raises core temperature to 37.5-38 °C. Nothing is raised, and
    # nothing is cleared either, until the worker rests.
    result = vitals.evaluate_fever(core_at(37.65, steps_per_sample=10), Profile(age=40), DEFAULTS)
    assert result.state is State.HOLD
    assert result.evidence["at_rest"] is False
    resting = vitals.evaluate_fever(core_at(37.65), Profile(age=40), DEFAULTS)
    assert resting.state is State.ACTIVE and resting.evidence["at_rest"] is True


def test_the_checkin_thermometer_counts_during_work():
    result = vitals.evaluate_fever(
        core_at(37.0, steps_per_sample=10), Profile(age=40, checkin_temperature=37.8), DEFAULTS
    )
    assert result.state is State.ACTIVE


def test_pedometer_noise_at_rest_is_still_rest():
    steps = series([0, 0, 1, 0, 0, 0, 2, 0] * 3 + [0])
    result = vitals.evaluate_fever(window(core_temp=steady(37.7, 12), steps=steps), Profile(age=40), DEFAULTS)
    assert result.state is State.ACTIVE


@pytest.mark.parametrize(
    ("spo2", "state", "severity"),
    [
        (90, State.CLEAR, None),
        (88, State.HOLD, None),
        (87, State.ACTIVE, Severity.WARNING),
        (85, State.ACTIVE, Severity.URGENT),
    ],
)
def test_spo2_scale_2_judges_against_the_88_to_92_target(spo2, state, severity):
    result = vitals.evaluate_hypoxemia(window(spo2=steady(spo2, 6)), DEFAULTS, scale2=True)
    assert (result.state, result.severity) == (state, severity)


@pytest.mark.parametrize(("checkin", "state"), [(37.5, State.ACTIVE), (37.4, State.CLEAR), (38.2, State.ACTIVE)])
def test_fever_from_checkin_thermometer(checkin, state):
    result = vitals.evaluate_fever(window(), Profile(age=40, checkin_temperature=checkin), DEFAULTS)
    assert result.state is state


def resting(hr_value, minutes=130):
    return window(heart_rate=steady(hr_value, minutes, every_s=60), steps=steady(0, minutes, every_s=60))


def test_resting_heart_rate_well_above_baseline_is_possible_illness():
    profile = Profile(age=40, rest_hr_baseline=62, rest_hr_spread=3)
    # limit = 62 + max(10, 3 × 3) = 72
    assert vitals.evaluate_illness(resting(73), profile, DEFAULTS).state is State.ACTIVE
    assert vitals.evaluate_illness(resting(72), profile, DEFAULTS).state is State.HOLD
    assert vitals.evaluate_illness(resting(66), profile, DEFAULTS).state is State.CLEAR


def test_a_wide_personal_spread_raises_the_limit():
    profile = Profile(age=40, rest_hr_baseline=62, rest_hr_spread=5)  # limit 62 + 15 = 77
    assert vitals.evaluate_illness(resting(75), profile, DEFAULTS).state is not State.ACTIVE
    assert vitals.evaluate_illness(resting(78), profile, DEFAULTS).state is State.ACTIVE


def test_no_baseline_no_opinion():
    assert vitals.evaluate_illness(resting(90), Profile(age=40), DEFAULTS).state is State.HOLD


def test_working_heart_rate_is_not_illness():
    profile = Profile(age=40, rest_hr_baseline=62, rest_hr_spread=3)
    working = window(heart_rate=steady(110, 130, every_s=60), steps=steady(40, 130, every_s=60))
    assert vitals.evaluate_illness(working, profile, DEFAULTS).state is State.HOLD
