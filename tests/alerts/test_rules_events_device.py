"""SOS, falls, and device problems."""

from datetime import timedelta

import pytest

from alerts.rules import device, events
from alerts.rules.base import Profile, Sample, Severity, State
from alerts.rules.engine import evaluate_window
from alerts.rules.thresholds import DEFAULTS
from tests.alerts.windows import NOW, series, steady, window


def test_sos_is_critical_at_once():
    result = events.evaluate_sos(window(sos=[Sample(NOW, 1)]))
    assert (result.state, result.severity) == (State.ACTIVE, Severity.CRITICAL)


def test_no_sos_holds():
    assert events.evaluate_sos(window()).state is State.HOLD


def test_fall_is_critical_at_once():
    result = events.evaluate_fall(window(fall=[Sample(NOW, 1)]), DEFAULTS)
    assert (result.state, result.severity) == (State.ACTIVE, Severity.CRITICAL)
    assert result.evidence["no_movement"] is False


@pytest.mark.parametrize(("still_s", "no_movement"), [(59, False), (60, True), (120, True)])
def test_fall_followed_by_no_steps_for_60_s(still_s, no_movement):
    fell = NOW - timedelta(seconds=still_s)
    steps = [Sample(fell + timedelta(seconds=s), 0) for s in range(10, still_s + 1, 10)]
    result = events.evaluate_fall(window(fall=[Sample(fell, 1)], steps=steps), DEFAULTS)
    assert result.evidence["no_movement"] is no_movement
    assert result.message == ("Fall with no movement" if no_movement else "Fall detected")


def test_fall_then_walking_is_not_no_movement():
    fell = NOW - timedelta(seconds=90)
    steps = [Sample(fell + timedelta(seconds=30), 12), Sample(fell + timedelta(seconds=60), 0)]
    result = events.evaluate_fall(window(fall=[Sample(fell, 1)], steps=steps), DEFAULTS)
    assert result.evidence["no_movement"] is False


def test_one_pedometer_step_during_the_impact_does_not_cancel_no_movement():
    fell = NOW - timedelta(seconds=90)
    steps = [Sample(fell + timedelta(seconds=5), 1)] + [
        Sample(fell + timedelta(seconds=s), 0) for s in range(15, 91, 15)
    ]
    result = events.evaluate_fall(window(fall=[Sample(fell, 1)], steps=steps), DEFAULTS)
    assert result.evidence["no_movement"] is True
    assert result.message == "Fall with no movement"


def test_a_stray_step_after_settling_is_not_getting_up():
    fell = NOW - timedelta(seconds=90)
    steps = [Sample(fell + timedelta(seconds=s), 1 if s == 45 else 0) for s in range(15, 91, 15)]
    result = events.evaluate_fall(window(fall=[Sample(fell, 1)], steps=steps), DEFAULTS)
    assert result.evidence["no_movement"] is True
    assert result.evidence["steps_after_settling"] == 1


def off_body_window():
    return window(
        heart_rate=steady(0 + 25, 6),
        skin_temp=steady(26.5, 6),
        ambient_temp=steady(26.0, 6),
        steps=steady(0, 6),
        spo2=steady(70, 6),
    )


def test_flat_implausible_heart_rate_and_cold_skin_is_off_body():
    result = device.evaluate_off_body(off_body_window(), DEFAULTS)
    assert (result.state, result.severity) == (State.ACTIVE, Severity.INFO)


def test_off_body_suppresses_clinical_alerts():
    kinds = {e.kind: e for e in evaluate_window(off_body_window(), Profile(age=40), DEFAULTS)}
    assert kinds["off_body"].state is State.ACTIVE
    assert kinds["hypoxemia"].state is State.HOLD  # SpO2 70 from a removed device is not hypoxemia
    assert kinds["early_warning"].state is State.HOLD


def test_worn_device_is_not_off_body():
    worn = window(heart_rate=series([72, 75, 71, 78, 74] * 3), skin_temp=steady(33.5, 6), ambient_temp=steady(26, 6))
    assert device.evaluate_off_body(worn, DEFAULTS).state is State.CLEAR


@pytest.mark.parametrize(
    ("silent_min", "state"), [(5, State.CLEAR), (9.9, State.CLEAR), (10, State.ACTIVE), (30, State.ACTIVE)]
)
def test_signal_lost_after_ten_minutes_on_shift_longer_than_a_normal_dropout(silent_min, state):
    result = device.evaluate_signal(NOW - timedelta(minutes=silent_min), NOW, True, DEFAULTS)
    assert result.state is state


def test_signal_loss_off_shift_is_not_an_alert():
    assert device.evaluate_signal(NOW - timedelta(hours=3), NOW, False, DEFAULTS).state is State.CLEAR


@pytest.mark.parametrize(("level", "state"), [(15, State.ACTIVE), (16, State.HOLD), (21, State.CLEAR)])
def test_low_battery_on_shift(level, state):
    result = device.evaluate_battery(window(battery=[Sample(NOW, level)]), True, DEFAULTS)
    assert result.state is state


def test_thresholds_overrides_are_validated():
    assert DEFAULTS.with_overrides({"spo2_warning": 92}).spo2_warning == 92.0
    assert DEFAULTS.with_overrides({"signal_lost_minutes": 15}).signal_lost_minutes == 15
    with pytest.raises(ValueError, match="unknown threshold"):
        DEFAULTS.with_overrides({"spo2_warn": 92})
    with pytest.raises(ValueError, match="must be a number"):
        DEFAULTS.with_overrides({"spo2_warning": "92"})
    with pytest.raises(ValueError, match="negative"):
        DEFAULTS.with_overrides({"spo2_warning": -1})


def removed_band(**extra):
    """A band taken off and laid down: skin at the air's, no steps."""
    metrics = {
        "skin_temp": steady(26.5, 6),
        "ambient_temp": steady(25.0, 6),
        "steps": steady(0, 6),
        "spo2": steady(97, 6),
    }
    metrics.update(extra)
    return window(**metrics)


def test_a_band_that_stops_sending_heart_rate_when_removed_is_off_body():
    result = device.evaluate_off_body(removed_band(), DEFAULTS)
    assert result.state is State.ACTIVE
    assert result.evidence["heart_rate"] == "missing"


def test_no_heart_rate_while_moving_is_not_off_body():
    result = device.evaluate_off_body(removed_band(steps=steady(10, 6)), DEFAULTS)
    assert result.state is not State.ACTIVE


def test_in_hot_air_the_skin_must_have_moved_towards_it():
    # In a 33 °C bay skin on a body is within 2 °C of the air anyway.
    on_body = window(skin_temp=steady(34.2, 15), ambient_temp=steady(33.0, 15), steps=steady(0, 6), spo2=steady(97, 6))
    assert device.evaluate_off_body(on_body, DEFAULTS).state is not State.ACTIVE
    # Taken off: the skin sensor falls from 35.5 to the air's 33.
    taken_off = window(
        skin_temp=series([35.5] * 20 + [33.2] * 11),
        ambient_temp=steady(33.0, 15),
        steps=steady(0, 6),
        spo2=steady(97, 6),
    )
    assert device.evaluate_off_body(taken_off, DEFAULTS).state is State.ACTIVE


def worn_without_heart_rate(minutes_without=6):
    """Heart rate until ``minutes_without`` ago, every other metric still arriving, skin warm."""
    hr = steady(80, 30, end=NOW - timedelta(minutes=minutes_without))
    return window(
        heart_rate=hr,
        skin_temp=steady(33.5, 30),
        ambient_temp=steady(25.0, 30),
        steps=steady(3, 30),
        spo2=steady(97, 30),
    )


@pytest.mark.parametrize(("minutes_without", "state"), [(4, State.CLEAR), (6, State.ACTIVE), (20, State.ACTIVE)])
def test_no_heart_rate_from_a_worn_wearable_on_shift(minutes_without, state):
    result = device.evaluate_heart_rate_missing(worn_without_heart_rate(minutes_without), True, DEFAULTS)
    assert result.state is state
    if state is State.ACTIVE:
        assert result.severity is Severity.WARNING
        assert "skin_temp" in result.evidence["metrics_arriving"]


def test_no_heart_rate_off_shift_is_not_an_alert():
    assert device.evaluate_heart_rate_missing(worn_without_heart_rate(), False, DEFAULTS).state is State.CLEAR


def test_a_device_that_never_sends_heart_rate_raises_nothing():
    w = window(skin_temp=steady(33.5, 30), steps=steady(3, 30))
    assert device.evaluate_heart_rate_missing(w, True, DEFAULTS).state is State.HOLD


def test_the_engine_reports_no_heart_rate_once_and_off_body_takes_over_a_removed_band():
    worn = {v.kind: v for v in evaluate_window(worn_without_heart_rate(), Profile(age=40), DEFAULTS)}
    assert worn["no_heart_rate"].state is State.ACTIVE
    assert worn["off_body"].state is not State.ACTIVE
    hr = steady(80, 30, end=NOW - timedelta(minutes=6))
    removed = {v.kind: v for v in evaluate_window(removed_band(heart_rate=hr), Profile(age=40), DEFAULTS)}
    assert removed["off_body"].state is State.ACTIVE
    assert removed["no_heart_rate"].state is State.HOLD


def test_a_band_being_taken_off_is_left_to_off_body():
    # Heart rate gone for 6 minutes, the skin sensor cooling from 33.5 to
    # 27 °C: not yet off-body by the air's measure, and not "no heart rate"
    # either, which would be the wrong call a minute later.
    hr = steady(80, 30, end=NOW - timedelta(minutes=6))
    skin = series([33.5] * 48 + [33.0, 31.5, 30.0, 29.0, 28.2, 27.6, 27.2, 27.0, 27.0, 27.0, 27.0, 27.0, 27.0])
    w = window(heart_rate=hr, skin_temp=skin, ambient_temp=steady(24.0, 30), steps=steady(0, 30))
    assert device.evaluate_heart_rate_missing(w, True, DEFAULTS).state is State.HOLD


# --- Late events: an SOS or a fall the device buffered while offline ----------


def test_an_sos_pressed_11_minutes_ago_and_received_now_is_raised_as_delayed():
    pressed = NOW - timedelta(minutes=11)
    result = events.evaluate_sos(window(sos=[Sample(pressed, 1, received_at=NOW)]))
    assert (result.state, result.severity) == (State.ACTIVE, Severity.CRITICAL)
    assert result.message == "SOS pressed earlier, received late: check the time it was pressed"
    assert result.evidence["delayed"] is True
    assert result.evidence["happened_at"] == pressed.isoformat()
    assert result.evidence["received_at"] == NOW.isoformat()
    assert result.evidence["delay_seconds"] == 660


def test_an_sos_received_a_few_seconds_after_it_was_pressed_is_not_delayed():
    pressed = NOW - timedelta(seconds=20)
    result = events.evaluate_sos(window(sos=[Sample(pressed, 1, received_at=pressed + timedelta(seconds=5))]))
    assert result.message == "SOS pressed"
    assert "delayed" not in result.evidence


def test_a_late_sos_counts_for_ten_minutes_from_its_arrival_not_from_its_press():
    pressed, arrived = NOW - timedelta(hours=2), NOW - timedelta(minutes=9)
    assert events.evaluate_sos(window(sos=[Sample(pressed, 1, received_at=arrived)])).state is State.ACTIVE
    arrived_long_ago = NOW - timedelta(minutes=11)
    assert events.evaluate_sos(window(sos=[Sample(pressed, 1, received_at=arrived_long_ago)])).state is State.HOLD


def test_a_late_fall_with_no_movement_after_it_is_raised_as_delayed():
    fell = NOW - timedelta(minutes=12)
    steps = [Sample(fell + timedelta(seconds=s), 0, received_at=NOW) for s in range(30, 600, 30)]
    result = events.evaluate_fall(window(fall=[Sample(fell, 1, received_at=NOW)], steps=steps), DEFAULTS)
    assert result.state is State.ACTIVE
    assert result.evidence["no_movement"] is True
    assert result.evidence["delayed"] is True
    assert result.message == "Fall with no movement, received late: check the time it happened"
