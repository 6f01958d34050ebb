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


# The impact itself shakes the pedometer: steps counted in the first seconds
# after a fall are the fall, not the worker getting up. After that, getting
# up and walking away shows as a few steps; one stray count does not.
FALL_SETTLE_SECONDS = 15
FALL_MOVED_STEPS = 3


def evaluate_fall(window: Window, t: Thresholds, since: timedelta = timedelta(minutes=10)) -> Evaluation:
    """A fall is critical at once; a fall followed by no movement (fewer than
    FALL_MOVED_STEPS steps after a settling time of FALL_SETTLE_SECONDS) for
    ``fall_still_seconds`` is a "fall with no movement". Never cleared
    automatically."""
    falls = window.get("fall", since)
    if not falls:
        return Evaluation.hold(FALL)
    fell_at = falls[-1].at
    settled_at = fell_at + timedelta(seconds=FALL_SETTLE_SECONDS)
    after = [s for s in window.get("steps", since) if s.at > settled_at]
    still_for = (window.now - fell_at).total_seconds()
    steps_after = sum(s.value for s in after)
    moved = steps_after >= FALL_MOVED_STEPS
    no_movement = not moved and still_for >= t.fall_still_seconds and bool(after)
    message = messages.FALL_STILL if no_movement else messages.FALL
    return Evaluation.active(
        FALL,
        Severity.CRITICAL,
        message,
        readings=samples_evidence(falls),
        no_movement=no_movement,
        still_seconds=round(still_for) if not moved else 0,
        steps_after_settling=steps_after,
        settle_seconds=FALL_SETTLE_SECONDS,
    )
