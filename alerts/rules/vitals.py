"""Hypoxemia, fever, and a resting heart rate above the personal baseline."""

from __future__ import annotations

from datetime import timedelta

from alerts.rules import messages
from alerts.rules.base import (
    Evaluation,
    Profile,
    Severity,
    Window,
    at_rest,
    median,
    resting_minutes_of,
    samples_evidence,
    sustained,
)
from alerts.rules.thresholds import Thresholds

HYPOXEMIA = "hypoxemia"
FEVER = "fever"
ILLNESS = "possible_illness"


# For a worker with hypercapnic respiratory failure the target saturation is
# 88-92 % (BTS oxygen guideline; NEWS2 SpO2 scale 2): below the target is
# low, and a saturation in it is not.
SCALE2_SPO2_WARNING = 87.0
SCALE2_SPO2_URGENT = 85.0


def evaluate_hypoxemia(window: Window, t: Thresholds, *, scale2: bool = False) -> Evaluation:
    """SpO2 ≤ 91 % sustained is a warning, ≤ 88 % sustained is urgent (for a
    worker on SpO2 scale 2: below the 88-92 % target, ≤ 87 % and ≤ 85 %); a
    single low sample never alerts (motion and poor contact produce them)."""
    span = timedelta(minutes=t.spo2_minutes)
    spo2 = window.get("spo2", span * 2)
    if len(spo2) < 3:
        return Evaluation.hold(HYPOXEMIA)
    warning, urgent = (SCALE2_SPO2_WARNING, SCALE2_SPO2_URGENT) if scale2 else (t.spo2_warning, t.spo2_urgent)
    evidence = {
        "readings": samples_evidence(spo2, 20),
        "median": median([s.value for s in spo2[-5:]]),
        "spo2_scale": 2 if scale2 else 1,
    }
    if sustained(spo2, window.now, span, lambda v: v <= urgent):
        return Evaluation.active(HYPOXEMIA, Severity.URGENT, messages.HYPOXEMIA_URGENT, **evidence)
    if sustained(spo2, window.now, span, lambda v: v <= warning):
        return Evaluation.active(HYPOXEMIA, Severity.WARNING, messages.HYPOXEMIA, **evidence)
    if sustained(spo2, window.now, span, lambda v: v > warning + t.spo2_clear_margin, share=1.0):
        return Evaluation.clear(HYPOXEMIA, **evidence)
    return Evaluation.hold(HYPOXEMIA)


def evaluate_fever(window: Window, profile: Profile, t: Thresholds) -> Evaluation:
    """Fever: a check-in thermometer value at or above 37.5 °C, or the
    device's core_temp sustained at or above it while the worker rests.

    Work alone raises core temperature to 37.5-38 °C, so a device value read
    during work says nothing about fever: the device rule holds (neither
    raises nor clears) until the worker has rested ``rest_minutes``."""
    span = timedelta(minutes=10)
    core = window.get("core_temp", span)
    checkin = profile.checkin_temperature
    resting = at_rest(window, t.rest_minutes)
    evidence = {"readings": samples_evidence(core, 10), "checkin_temperature": checkin, "at_rest": resting}
    if checkin is not None and checkin >= t.fever_temperature:
        return Evaluation.active(FEVER, Severity.WARNING, messages.FEVER, **evidence)
    if resting and sustained(core, window.now, span, lambda v: v >= t.fever_temperature):
        return Evaluation.active(FEVER, Severity.WARNING, messages.FEVER, **evidence)
    if len(core) >= 3 and all(s.value < t.fever_temperature - t.fever_clear_margin for s in core):
        return Evaluation.clear(FEVER, **evidence)
    if not core and checkin is not None:
        return Evaluation.clear(FEVER, **evidence)
    return Evaluation.hold(FEVER, **evidence)


def evaluate_illness(window: Window, profile: Profile, t: Thresholds) -> Evaluation:
    """Resting heart rate well above the worker's own 14-day resting baseline
    for a sustained period: a possible illness (Mishra et al. 2020, Nature
    Biomedical Engineering 4:1208, pre-symptomatic detection of COVID-19 from
    smartwatch data). Only resting samples count; without a baseline, no opinion."""
    if profile.rest_hr_baseline is None:
        return Evaluation.hold(ILLNESS)
    if not at_rest(window, t.rest_minutes):
        return Evaluation.hold(ILLNESS)
    spread = profile.rest_hr_spread or 0.0
    excess = max(t.illness_min_excess, t.illness_spread_factor * spread)
    limit = profile.rest_hr_baseline + excess
    span = timedelta(minutes=t.illness_minutes)
    resting = resting_minutes_of(window.get("heart_rate", span), window.get("steps", span))
    evidence = {
        "baseline": profile.rest_hr_baseline,
        "limit": round(limit, 1),
        "resting_median": median([s.value for s in resting]) if resting else None,
        "readings": samples_evidence(resting, 20),
    }
    if sustained(resting, window.now, span, lambda v: v > limit, min_samples=10):
        return Evaluation.active(
            ILLNESS,
            Severity.WARNING,
            messages.ILLNESS,
            **evidence,
        )
    if len(resting) >= 3 and median([s.value for s in resting[-10:]]) < limit - t.illness_clear_margin:
        return Evaluation.clear(ILLNESS, **evidence)
    return Evaluation.hold(ILLNESS)
