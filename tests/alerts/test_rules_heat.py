"""Heat index against the NWS table, the Kalman core-temperature model
against hand-worked steps, the PSI formula, and the heat-strain and rest rules."""

from datetime import timedelta

import pytest

from alerts.rules import heat
from alerts.rules.base import Severity, State
from alerts.rules.thresholds import DEFAULTS
from tests.alerts.windows import NOW, series, steady, window


def f_to_c(f):
    return (f - 32) * 5 / 9


@pytest.mark.parametrize(
    # (°F, RH %, heat index °F from the NWS heat index chart)
    ("temp_f", "rh", "expected_f"),
    [(80, 40, 80), (90, 70, 106), (100, 40, 109), (86, 90, 105), (96, 50, 108), (84, 60, 88), (104, 20, 104)],
)
def test_heat_index_matches_nws_chart(temp_f, rh, expected_f):
    assert heat.heat_index_c(f_to_c(temp_f), rh) == pytest.approx(f_to_c(expected_f), abs=0.7)


def test_heat_index_of_33_celsius_boundary():
    # 31 °C at 60 % is above the 33 °C rest threshold; 29 °C at 50 % is below it
    assert heat.heat_index_c(31, 60) >= 33
    assert heat.heat_index_c(29, 50) < 33


def test_kalman_first_step_worked_by_hand():
    # From CT0 = 37.1, v0 = 0: v_pred = 0.022² = 0.000484; slope c = 2(−4.5714)(37.1) + 384.4286
    # = 45.23072; expected HR = −4.5714·37.1² + 384.4286·37.1 − 7887.1 = 83.0798 (to 4 d.p.);
    # gain k = 0.000484·45.23072 / (45.23072²·0.000484 + 18.88²) = 6.1057e-5.
    # With HR 150: CT = 37.1 + k·(150 − 83.0798) = 37.10409; v = (1 − k·c)·v_pred = 0.00048266.
    step = heat.core_temp_step(heat.CoreEstimate(37.1, 0.0), 150)
    assert step.celsius == pytest.approx(37.10409, abs=1e-5)
    assert step.variance == pytest.approx(0.00048266, rel=1e-4)


def test_kalman_holds_at_the_heart_rate_the_model_expects():
    estimate = heat.CoreEstimate(37.1, 0.0)
    for _ in range(60):
        estimate = heat.core_temp_step(estimate, 83.0798)
    assert estimate.celsius == pytest.approx(37.1, abs=1e-3)


def test_kalman_rises_under_sustained_high_heart_rate():
    hr = steady(165, 120, every_s=60)
    core = heat.core_temp_estimate(hr)
    assert 38.0 < core < 39.5
    lower = heat.core_temp_estimate(steady(120, 120, every_s=60))
    assert 37.1 < lower < core


@pytest.mark.parametrize(
    ("core", "hr", "core0", "hr0", "psi"),
    [
        (37.0, 70, 37.0, 70, 0.0),
        (39.5, 180, 37.0, 70, 10.0),
        (38.25, 125, 37.0, 70, 5.0),  # halfway on both scales
        (38.0, 120, 37.0, 60, 4.5),  # 5·1/2.5 + 5·60/120 = 2.0 + 2.5
        (36.5, 50, 37.0, 70, 0.0),  # clamped at 0
        (41.0, 200, 37.0, 70, 10.0),  # clamped at 10
    ],
)
def test_physiological_strain_index(core, hr, core0, hr0, psi):
    assert heat.physiological_strain_index(core, hr, core0, hr0) == pytest.approx(psi, abs=0.05)


def strain(hr_value, minutes=8, core=None, age=40, acclimatized=True):
    metrics = {"heart_rate": steady(hr_value, minutes)}
    if core is not None:
        metrics["core_temp"] = steady(core, 5)
    return heat.evaluate_heat_strain(window(**metrics), age, acclimatized, 70, DEFAULTS)


@pytest.mark.parametrize(
    ("hr", "state"),
    [(141, State.ACTIVE), (140, State.HOLD), (131, State.HOLD), (129, State.CLEAR)],
)
def test_sustained_heart_rate_above_180_minus_age(hr, state):
    # age 40: the limit is 140 bpm; clearing needs 10 bpm below it
    result = strain(hr, core=37.2)
    assert result.state is state


def test_brief_heart_rate_spike_is_not_heat_strain():
    samples = series([100] * 20 + [150] * 3)
    result = heat.evaluate_heat_strain(window(heart_rate=samples, core_temp=steady(37.2, 5)), 40, True, 70, DEFAULTS)
    assert result.state is not State.ACTIVE


@pytest.mark.parametrize(
    ("core", "acclimatized", "state"),
    [
        (38.6, True, State.ACTIVE),
        (38.5, True, State.HOLD),
        (38.1, False, State.ACTIVE),
        (38.0, False, State.HOLD),
        (37.6, False, State.CLEAR),
    ],
)
def test_core_temperature_limits_depend_on_acclimatization(core, acclimatized, state):
    result = strain(100, core=core, acclimatized=acclimatized)
    assert result.state is state
    if state is State.ACTIVE:
        assert result.severity is Severity.URGENT
        assert result.evidence["core_temp_source"] == "device"
        assert 0 <= result.evidence["psi"] <= 10


def test_core_temperature_is_estimated_without_a_device_value():
    result = heat.evaluate_heat_strain(window(heart_rate=steady(170, 150, every_s=60)), 30, False, 70, DEFAULTS)
    assert result.evidence["core_temp_source"] == "estimated"
    assert result.evidence["core_temp"] > 38.0
    assert result.state is State.ACTIVE and "core_temp" in result.evidence["reasons"]


def test_recovery_heart_rate_above_120_one_minute_after_peak():
    # effort peaking at 160, one minute later still 130
    values = [110] * 10 + [150, 160, 150, 140, 132, 130, 128, 126]
    result = heat.evaluate_heat_strain(
        window(heart_rate=series(values, every_s=15), core_temp=steady(37.3, 5)), 25, True, 70, DEFAULTS
    )
    assert result.state is State.ACTIVE
    # 3-sample medians: the peak plateau (150) ends at 12:00:45-ish, and one
    # minute later the median of 130, 128, 126 is 128
    assert result.evidence["recovery_heart_rate"] == 128
    assert result.evidence["reasons"] == ["recovery_heart_rate"]


def test_a_single_spike_is_not_a_peak_of_effort():
    # working at 125 with one 180 artefact: no recovery to measure
    values = [125] * 20 + [180] + [125] * 8
    result = heat.evaluate_heat_strain(
        window(heart_rate=series(values, every_s=15), core_temp=steady(37.3, 5)), 25, True, 70, DEFAULTS
    )
    assert result.state is not State.ACTIVE
    assert result.evidence["recovery_heart_rate"] is None


def test_recovery_below_120_is_not_strain():
    values = [110] * 10 + [150, 160, 140, 125, 118, 112, 105, 100]
    result = heat.evaluate_heat_strain(
        window(heart_rate=series(values, every_s=15), core_temp=steady(37.3, 5)), 25, True, 70, DEFAULTS
    )
    assert result.state is not State.ACTIVE


def hot_day(steps, temp=32.0, humidity=70.0):
    return window(ambient_temp=steady(temp, 10), ambient_humidity=steady(humidity, 10), steps=steps)


def test_two_hours_of_work_in_high_heat_index_is_overdue_rest():
    result = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60)), DEFAULTS)
    assert result.state is State.ACTIVE and result.severity is Severity.INFO
    assert result.evidence["heat_index"] >= 33


def test_a_twenty_minute_break_resets_the_clock():
    steps = series([30] * 60 + [0] * 21 + [30] * 50, every_s=60)
    assert heat.evaluate_rest(hot_day(steps), DEFAULTS).state is not State.ACTIVE
    assert heat.minutes_since_break(steps, NOW, 20) == 49  # the last 50 samples, a minute apart


def test_a_short_break_does_not_count():
    steps = series([30] * 60 + [0] * 10 + [30] * 60, every_s=60)
    assert heat.evaluate_rest(hot_day(steps), DEFAULTS).state is State.ACTIVE


def test_low_heat_index_needs_no_rest_reminder():
    result = heat.evaluate_rest(hot_day(steady(30, 125, every_s=60), temp=25, humidity=40), DEFAULTS)
    assert result.state is State.CLEAR


def test_minutes_since_break_when_resting_now():
    steps = series([30] * 100 + [0] * 25, every_s=60)
    assert heat.minutes_since_break(steps, NOW, 20) == 0.0
    assert heat.minutes_since_break(steps, NOW + timedelta(minutes=1), 20) == 0.0
