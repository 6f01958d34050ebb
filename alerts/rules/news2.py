"""NEWS2 sub-score from what a wearable measures.

Bands from the Royal College of Physicians, National Early Warning Score
(NEWS) 2, 2017, chart 1 (respiration rate, SpO2 scale 1, pulse,
temperature). Blood pressure, consciousness and supplemental oxygen are not
measured by a wearable, so this is a partial score: it can only under-count.
Response thresholds (chart 2): any single parameter scoring 3 is "low-medium"
(urgent ward-based review), an aggregate of 5-6 is "medium" (urgent
response), 7 or more is "high" (emergency response).
"""

from __future__ import annotations

from datetime import timedelta

from alerts.rules import messages
from alerts.rules.base import Evaluation, Severity, Window, at_rest, median, samples_evidence
from alerts.rules.thresholds import Thresholds

KIND = "early_warning"


def score_respiration(rate: float) -> int:
    rate = round(rate)
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def score_spo2_scale1(spo2: float) -> int:
    spo2 = round(spo2)
    if spo2 <= 91:
        return 3
    if spo2 <= 93:
        return 2
    if spo2 <= 95:
        return 1
    return 0


def score_spo2_scale2(spo2: float) -> int:
    """SpO2 scale 2, for a target of 88-92 % (hypercapnic respiratory
    failure, on a clinician's decision). A wearable cannot tell air from
    supplemental oxygen: a worker at work breathes air, and on air any value
    of 88 % or more scores 0."""
    spo2 = round(spo2)
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    return 0


def score_pulse(rate: float) -> int:
    rate = round(rate)
    if rate <= 40:
        return 3
    if rate <= 50:
        return 1
    if rate <= 90:
        return 0
    if rate <= 110:
        return 1
    if rate <= 130:
        return 2
    return 3


def score_temperature(celsius: float) -> int:
    celsius = round(celsius, 1)
    if celsius <= 35.0:
        return 3
    if celsius <= 36.0:
        return 1
    if celsius <= 38.0:
        return 0
    if celsius <= 39.0:
        return 1
    return 2


SCORERS = {
    "resp_rate": score_respiration,
    "spo2": score_spo2_scale1,
    "heart_rate": score_pulse,
    "core_temp": score_temperature,
}


def response(scores: dict[str, int]) -> Severity | None:
    """The RCP clinical response for these parameter scores, as an alert severity."""
    total = sum(scores.values())
    if total >= 7:
        return Severity.CRITICAL
    if total >= 5:
        return Severity.URGENT
    if any(score == 3 for score in scores.values()):
        return Severity.WARNING
    return None


def evaluate(window: Window, thresholds: Thresholds, *, scale2: bool = False) -> Evaluation:
    """Early-warning score, at rest only: a working worker's pulse is not a
    patient's. ``scale2``: SpO2 scored on scale 2 (hypercapnic respiratory
    failure, recorded by a clinician on the worker)."""
    if not at_rest(window, thresholds.rest_minutes):
        return Evaluation.hold(KIND)
    span = timedelta(minutes=thresholds.news2_minutes)
    values: dict[str, float] = {}
    evidence: dict[str, list] = {}
    for metric in SCORERS:
        samples = window.get(metric, span)
        if len(samples) >= 3:
            values[metric] = median([s.value for s in samples])
            evidence[metric] = samples_evidence(samples, 10)
    if "heart_rate" not in values or "spo2" not in values:
        return Evaluation.hold(KIND)
    scorers = {**SCORERS, "spo2": score_spo2_scale2} if scale2 else SCORERS
    scores = {metric: scorers[metric](value) for metric, value in values.items()}
    severity = response(scores)
    summary = {
        "values": values,
        "scores": scores,
        "total": sum(scores.values()),
        "spo2_scale": 2 if scale2 else 1,
        "readings": evidence,
    }
    if severity is None:
        # Hysteresis: clear only well below the lowest trigger, so a score
        # hovering at 4-5 does not open and close alerts.
        if summary["total"] <= 3 and max(scores.values()) <= 2:
            return Evaluation.clear(KIND, **summary)
        return Evaluation.hold(KIND)
    message = messages.EARLY_WARNING
    return Evaluation.active(KIND, severity, message, **summary)
