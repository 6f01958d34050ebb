"""SOS and falls: critical at once."""

from __future__ import annotations

from datetime import timedelta

from alerts.rules import messages
from alerts.rules.base import Evaluation, Severity, Window, samples_evidence
from alerts.rules.thresholds import Thresholds

SOS = "sos"
FALL = "fall"


def evaluate_sos(window: Window, since: timedelta = timedelta(minutes=10)) -> Evaluation:
    """An SOS press in the window is critical at once; it is never cleared
    automatically (a person resolves it)."""
    presses = window.get("sos", since)
    if presses:
        return Evaluation.active(SOS, Severity.CRITICAL, messages.SOS, readings=samples_evidence(presses))
    return Evaluation.hold(SOS)


def evaluate_fall(window: Window, t: Thresholds, since: timedelta = timedelta(minutes=10)) -> Evaluation:
    """A fall is critical at once; a fall followed by no steps for 60 s is a
    "fall with no movement". Never cleared automatically."""
    falls = window.get("fall", since)
    if not falls:
        return Evaluation.hold(FALL)
    fell_at = falls[-1].at
    after = [s for s in window.get("steps", since) if s.at > fell_at]
    still_for = (window.now - fell_at).total_seconds()
    moved = any(s.value > 0 for s in after)
    no_movement = not moved and still_for >= t.fall_still_seconds and bool(after)
    message = messages.FALL_STILL if no_movement else messages.FALL
    return Evaluation.active(
        FALL,
        Severity.CRITICAL,
        message,
        readings=samples_evidence(falls),
        no_movement=no_movement,
        still_seconds=round(still_for) if not moved else 0,
    )
