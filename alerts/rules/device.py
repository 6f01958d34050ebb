"""Device problems, never clinical alerts: off body, signal lost, low battery."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.rules import messages
from alerts.rules.base import REST_CADENCE, Evaluation, Severity, Window, median, minute_steps, samples_evidence
from alerts.rules.thresholds import Thresholds

OFF_BODY = "off_body"
SIGNAL_LOST = "signal_lost"
NO_HEART_RATE = "no_heart_rate"
LOW_BATTERY = "low_battery"


# Metrics a wearable measures from the body (besides heart rate): while
# these keep arriving, the device is on and connected.
BODY_METRICS = ("spo2", "skin_temp", "core_temp", "resp_rate", "hrv_rmssd", "steps")
# Skin within this of the air is skin no longer warmed by a body ...
SKIN_NEAR_AMBIENT = 2.0  # °C
# ... but in air near skin temperature the gap tells nothing, so there the
# skin must also have moved this much towards the air in the last 15 minutes.
WARM_AIR = 31.0  # °C
SKIN_TOWARDS_AMBIENT = 1.0  # °C
SKIN_WITHOUT_AMBIENT = 28.0  # °C: skin colder than this is not on a body
# The skin temperature "now": the median of the last two minutes (a band
# laid down cools to the air in two or three).
SKIN_NOW = timedelta(minutes=2)


def _skin_towards_ambient(window: Window, span: timedelta) -> tuple[bool | None, dict]:
    """Whether the skin temperature has fallen (or risen) to the air's: True,
    False, or None when the device sends no skin temperature."""
    skin = window.get("skin_temp", min(span, SKIN_NOW))
    if not skin:
        return None, {}
    skin_now = median([s.value for s in skin])
    # The air of the last few minutes, as the skin sensor of a band laid down
    # follows it within minutes (a longer median lags a move between rooms).
    ambient = window.get("ambient_temp", span)
    if not ambient:
        return skin_now < SKIN_WITHOUT_AMBIENT, {"skin_temp": round(skin_now, 1)}
    air = median([s.value for s in ambient])
    gap = skin_now - air
    evidence = {"skin_temp": round(skin_now, 1), "skin_minus_ambient": round(gap, 1)}
    if abs(gap) >= SKIN_NEAR_AMBIENT:
        return False, evidence
    if air < WARM_AIR:
        return True, evidence
    earlier = window.get("skin_temp", timedelta(minutes=15))
    earlier = [s for s in earlier if s.at < window.now - span]
    if not earlier:
        return False, evidence
    moved = abs(median([s.value for s in earlier[-3:]]) - air) - abs(gap)
    evidence["skin_moved_towards_ambient"] = round(moved, 1)
    return moved >= SKIN_TOWARDS_AMBIENT, evidence


def looks_off_body(window: Window, t: Thresholds) -> tuple[bool, dict]:
    """A removed or loose device, judged from every metric it sends: skin
    temperature gone to the air's, no heart rate (missing, flat or
    implausible), and no motion (no more than the resting cadence). A device
    that sends nothing at all is signal lost, not off the body."""
    span = timedelta(minutes=t.off_body_minutes)
    hr = window.get("heart_rate", span)
    steps = window.get("steps", span)
    skin_gone, evidence = _skin_towards_ambient(window, span)
    values = [s.value for s in hr]
    hr_state = (
        "missing"
        if len(hr) < 3
        else "flat"
        if max(values) - min(values) < 1.0
        else "implausible"
        if median(values) < 30
        else "present"
    )
    busiest = max(minute_steps(steps).values(), default=0.0)
    evidence.update(
        heart_rate=hr_state,
        heart_rate_readings=samples_evidence(hr, 10),
        steps_per_minute_max=busiest,
    )
    no_motion = busiest <= REST_CADENCE
    return bool(skin_gone) and no_motion and hr_state != "present", evidence


def evaluate_off_body(window: Window, t: Thresholds) -> Evaluation:
    off, evidence = looks_off_body(window, t)
    if off:
        return Evaluation.active(OFF_BODY, Severity.INFO, messages.OFF_BODY, **evidence)
    hr = window.get("heart_rate", timedelta(minutes=t.off_body_minutes))
    if len(hr) >= 3 and max(s.value for s in hr) - min(s.value for s in hr) >= 3:
        return Evaluation.clear(OFF_BODY, **evidence)
    return Evaluation.hold(OFF_BODY)


def evaluate_heart_rate_missing(window: Window, on_shift: bool, t: Thresholds) -> Evaluation:
    """A worker on shift whose wearable sent heart rate before, has sent none
    for N minutes, and goes on sending its other body metrics: the heart-rate
    sensor has lost the skin (a loose strap) or failed, and every heart-rate
    rule is blind. Neither off-body (the engine lets off-body take over when
    the skin and motion say the band is off) nor signal lost (data arrives).
    """
    span = timedelta(minutes=t.no_heart_rate_minutes)
    recent_hr = window.get("heart_rate", span)
    if len(recent_hr) >= 3:
        return Evaluation.clear(NO_HEART_RATE)
    if not on_shift:
        return Evaluation.clear(NO_HEART_RATE)
    earlier_hr = window.get("heart_rate")
    others = [s for metric in BODY_METRICS for s in window.get(metric, span)]
    times = sorted(s.at for s in others)
    flowing = len(times) >= 3 and times[-1] - times[0] >= span * 0.6
    # A skin temperature on the move is a band coming off (or going on):
    # off-body decides that one, once the skin has reached the air's.
    skin = [s.value for s in window.get("skin_temp", span)]
    ambient = window.get("ambient_temp", span)
    skin_moving = False
    if len(skin) >= 4:
        before, now = median(skin[:3]), median(skin[-3:])
        air = median([s.value for s in ambient]) if ambient else SKIN_WITHOUT_AMBIENT
        skin_moving = abs(before - air) - abs(now - air) >= SKIN_TOWARDS_AMBIENT
    if not earlier_hr or not flowing or recent_hr or skin_moving:
        return Evaluation.hold(NO_HEART_RATE)
    return Evaluation.active(
        NO_HEART_RATE,
        Severity.WARNING,
        messages.NO_HEART_RATE,
        last_heart_rate=earlier_hr[-1].at.isoformat(),
        silent_minutes=round((window.now - earlier_hr[-1].at).total_seconds() / 60, 1),
        metrics_arriving=sorted({m for m in BODY_METRICS if window.get(m, span)}),
    )


def evaluate_signal(last_seen: datetime | None, now: datetime, on_shift: bool, t: Thresholds) -> Evaluation:
    """A worker on shift whose device has sent nothing for N minutes: a
    lone-worker safety warning. Cleared as soon as data arrives again."""
    if last_seen is None or not on_shift:
        return Evaluation.hold(SIGNAL_LOST) if last_seen is None else Evaluation.clear(SIGNAL_LOST)
    silent = (now - last_seen).total_seconds() / 60
    if silent >= t.signal_lost_minutes:
        return Evaluation.active(
            SIGNAL_LOST,
            Severity.WARNING,
            messages.SIGNAL_LOST,
            last_seen=last_seen.isoformat(),
            silent_minutes=round(silent, 1),
        )
    return Evaluation.clear(SIGNAL_LOST, last_seen=last_seen.isoformat())


def evaluate_battery(window: Window, on_shift: bool, t: Thresholds) -> Evaluation:
    battery = window.latest("battery")
    if battery is None:
        return Evaluation.hold(LOW_BATTERY)
    if on_shift and battery.value <= t.low_battery:
        return Evaluation.active(LOW_BATTERY, Severity.INFO, messages.LOW_BATTERY, battery=battery.value)
    if battery.value > t.low_battery + 5:
        return Evaluation.clear(LOW_BATTERY, battery=battery.value)
    return Evaluation.hold(LOW_BATTERY)
