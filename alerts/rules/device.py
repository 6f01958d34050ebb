"""Device problems, never clinical alerts: off body, signal lost, low battery."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.rules import messages
from alerts.rules.base import Evaluation, Severity, Window, median, samples_evidence
from alerts.rules.thresholds import Thresholds

OFF_BODY = "off_body"
SIGNAL_LOST = "signal_lost"
LOW_BATTERY = "low_battery"


def looks_off_body(window: Window, t: Thresholds) -> tuple[bool, dict]:
    """A removed or loose device: heart rate flat or implausible, skin
    temperature near the ambient temperature, and no steps."""
    span = timedelta(minutes=t.off_body_minutes)
    hr = window.get("heart_rate", span)
    skin = window.get("skin_temp", span)
    ambient = window.get("ambient_temp", span)
    steps = window.get("steps", span)
    evidence: dict = {"heart_rate": samples_evidence(hr, 10), "skin_temp": samples_evidence(skin, 10)}
    if len(hr) < 3 or any(s.value > 0 for s in steps):
        return False, evidence
    values = [s.value for s in hr]
    flat = max(values) - min(values) < 1.0
    implausible = median(values) < 30
    cold_skin = False
    if skin and ambient:
        gap = median([s.value for s in skin]) - median([s.value for s in ambient])
        cold_skin = gap < 2.0
        evidence["skin_minus_ambient"] = round(gap, 1)
    elif skin:
        cold_skin = median([s.value for s in skin]) < 28.0
    return (flat or implausible) and cold_skin, evidence


def evaluate_off_body(window: Window, t: Thresholds) -> Evaluation:
    off, evidence = looks_off_body(window, t)
    if off:
        return Evaluation.active(OFF_BODY, Severity.INFO, messages.OFF_BODY, **evidence)
    hr = window.get("heart_rate", timedelta(minutes=t.off_body_minutes))
    if len(hr) >= 3 and max(s.value for s in hr) - min(s.value for s in hr) >= 3:
        return Evaluation.clear(OFF_BODY, **evidence)
    return Evaluation.hold(OFF_BODY)


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
