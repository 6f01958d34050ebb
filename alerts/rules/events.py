"""SOS and falls: critical at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from alerts.rules import messages
from alerts.rules.base import Evaluation, Sample, Severity, Window, samples_evidence
from alerts.rules.thresholds import Thresholds

SOS = "sos"
FALL = "fall"


# A device that was offline re-sends its buffer when it reconnects
# (device-protocol.md). An SOS or a fall that arrives late is still news: it
# counts for ``since`` from its arrival, not from when it happened, and the
# alert says it is late (both times in the evidence). One that arrives more
# than LATE_AFTER after it happened is "delayed".
LATE_AFTER = timedelta(minutes=1)


def _counted(samples: Sequence[Sample], now: datetime, since: timedelta) -> list[Sample]:
    """The events that happened, or arrived, within ``since`` of ``now``."""
    return [s for s in samples if max(s.at, s.received_at or s.at) >= now - since]


def _delay(event: Sample) -> dict[str, object]:
    """Evidence of a late event: when it happened and when it arrived."""
    if event.received_at is None or event.received_at - event.at < LATE_AFTER:
        return {}
    return {
        "delayed": True,
        "happened_at": event.at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "delay_seconds": round((event.received_at - event.at).total_seconds()),
    }


def evaluate_sos(window: Window, since: timedelta = timedelta(minutes=10)) -> Evaluation:
    """An SOS press in the window is critical at once, however late it
    arrived; it is never cleared automatically (a person resolves it)."""
    presses = _counted(window.get("sos"), window.now, since)
    if presses:
        delay = _delay(presses[0])
        message = messages.SOS_DELAYED if delay else messages.SOS
        return Evaluation.active(SOS, Severity.CRITICAL, message, readings=samples_evidence(presses), **delay)
    return Evaluation.hold(SOS)


# The impact itself shakes the pedometer: steps counted in the first seconds
# after a fall are the fall, not the worker getting up. After that, getting
# up and walking away shows as a few steps; one stray count does not.
FALL_SETTLE_SECONDS = 15
FALL_MOVED_STEPS = 3


def evaluate_fall(window: Window, t: Thresholds, since: timedelta = timedelta(minutes=10)) -> Evaluation:
    """A fall is critical at once, however late it arrived; a fall followed
    by no movement (fewer than FALL_MOVED_STEPS steps after a settling time of
    FALL_SETTLE_SECONDS) for ``fall_still_seconds`` is a "fall with no
    movement". Never cleared automatically."""
    falls = _counted(window.get("fall"), window.now, since)
    if not falls:
        return Evaluation.hold(FALL)
    fell_at = falls[-1].at
    settled_at = fell_at + timedelta(seconds=FALL_SETTLE_SECONDS)
    # All the steps after it, not only the last ``since``: a late fall's
    # aftermath arrived in the same buffer.
    after = [s for s in window.get("steps") if s.at > settled_at]
    still_for = (window.now - fell_at).total_seconds()
    steps_after = sum(s.value for s in after)
    moved = steps_after >= FALL_MOVED_STEPS
    no_movement = not moved and still_for >= t.fall_still_seconds and bool(after)
    delay = _delay(falls[0])
    if delay:
        message = messages.FALL_STILL_DELAYED if no_movement else messages.FALL_DELAYED
    else:
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
        **delay,
    )
