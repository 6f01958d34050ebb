from __future__ import annotations

import bisect
import enum
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    URGENT = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Severity:
        return cls[label.upper()]


class State(enum.Enum):
    ACTIVE = "active"
    CLEAR = "clear"
    HOLD = "hold"


@dataclass(frozen=True)
class Sample:
    at: datetime
    value: float
    # When the server received it, where a rule needs to know (SOS and falls,
    # which count from their arrival when a device delivers them late).
    received_at: datetime | None = None


@dataclass(frozen=True)
class Window:
    """Readings of one worker, per metric, oldest first, up to ``now``."""

    now: datetime
    series: Mapping[str, Sequence[Sample]]

    def get(self, metric: str, since: timedelta | None = None) -> Sequence[Sample]:
        samples = self.series.get(metric, ())
        if since is None:
            return samples
        # Samples are oldest first: find the start by bisection.
        return samples[bisect.bisect_left(samples, self.now - since, key=lambda s: s.at) :]

    def latest(self, metric: str) -> Sample | None:
        samples = self.series.get(metric, ())
        return samples[-1] if samples else None


@dataclass(frozen=True)
class Profile:
    """What the rules know about the worker (no identity, only physiology)."""

    age: int
    acclimatized: bool = False
    on_shift: bool = True
    rest_hr_baseline: float | None = None  # median resting heart rate, last 14 days
    rest_hr_spread: float | None = None  # robust SD (1.4826 × MAD) of the same
    checkin_temperature: float | None = None  # today's check-in thermometer value


@dataclass(frozen=True)
class Evaluation:
    kind: str
    state: State
    severity: Severity | None = None
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def active(cls, kind: str, severity: Severity, message: str, **evidence: Any) -> Evaluation:
        return cls(kind, State.ACTIVE, severity, message, evidence)

    @classmethod
    def clear(cls, kind: str, **evidence: Any) -> Evaluation:
        return cls(kind, State.CLEAR, None, "", evidence)

    @classmethod
    def hold(cls, kind: str) -> Evaluation:
        return cls(kind, State.HOLD)


def samples_evidence(samples: Sequence[Sample], limit: int = 30) -> list[list[Any]]:
    """The readings behind a finding, compact, to be kept with the alert."""
    return [[s.at.isoformat(), s.value] for s in samples[-limit:]]


def sustained(
    samples: Sequence[Sample],
    now: datetime,
    duration: timedelta,
    predicate,
    *,
    min_samples: int = 3,
    share: float = 0.8,
) -> bool:
    """True when the last ``duration`` holds at least ``min_samples`` samples,
    spans most of the duration, and ``share`` of them satisfy ``predicate``.
    A single sample never makes a condition sustained."""
    recent = [s for s in samples if s.at >= now - duration]
    if len(recent) < min_samples:
        return False
    if recent[-1].at - recent[0].at < duration * 0.6:
        return False
    hits = sum(1 for s in recent if predicate(s.value))
    return hits >= share * len(recent)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def robust_spread(values: Sequence[float]) -> float:
    """1.4826 × median absolute deviation: a standard deviation that outliers do not inflate."""
    centre = statistics.median(values)
    return 1.4826 * float(statistics.median(abs(v - centre) for v in values))


def at_rest(window: Window, minutes: int) -> bool:
    """No steps recorded in the last ``minutes`` and step data present (a
    device that sends no steps cannot tell rest from work)."""
    steps = window.get("steps", timedelta(minutes=minutes))
    if len(steps) < 2:
        return False
    covered = steps[-1].at - steps[0].at >= timedelta(minutes=minutes) * 0.6
    return covered and all(s.value == 0 for s in steps)


# A minute counts as resting when neither it nor the minutes just before it
# had steps: the heart rate takes a while to settle after effort.
REST_SETTLE_MINUTES = 3


def resting_minutes_of(heart_rate: Sequence[Sample], steps: Sequence[Sample]) -> list[Sample]:
    """Per-minute mean heart rate of the resting minutes, oldest first.
    Minutes with no step data at all are not counted as resting."""
    moved: dict[datetime, float] = {}
    for s in steps:
        minute = s.at.replace(second=0, microsecond=0)
        moved[minute] = moved.get(minute, 0.0) + s.value
    beats: dict[datetime, list[float]] = {}
    for s in heart_rate:
        beats.setdefault(s.at.replace(second=0, microsecond=0), []).append(s.value)
    resting = []
    for minute, values in sorted(beats.items()):
        if all(moved.get(minute - timedelta(minutes=k)) == 0 for k in range(REST_SETTLE_MINUTES)):
            resting.append(Sample(minute, sum(values) / len(values)))
    return resting
