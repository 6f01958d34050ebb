from __future__ import annotations

import bisect
import enum
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    # Per-window results several rules share (e.g. "at rest for 10 minutes"),
    # computed once: the window never changes.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

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
    # None: nobody has recorded it (workers.Worker.acclimatized); the heat rule
    # says so in its evidence rather than presuming either way.
    acclimatized: bool | None = None
    # Hypercapnic respiratory failure, recorded by a clinician: SpO2 scale 2.
    spo2_scale2: bool = False
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
    def hold(cls, kind: str, **evidence: Any) -> Evaluation:
        """Neither active nor clear; the evidence, if any, says what was seen."""
        return cls(kind, State.HOLD, None, "", evidence)


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


# --- Activity, from the pedometer -------------------------------------------
# Steps are the only motion signal of the device protocol. A wrist at rest
# still counts the odd step (gestures, shifting weight: wrist-worn
# pedometers over-count during non-walking movement, Fokkema et al. 2017,
# Med Sci Sports Exerc 49:793), so "at rest" is a minute with at most
# REST_CADENCE steps, well under the 20-39 steps/min of sporadic movement in
# Tudor-Locke et al.'s cadence bands (2011, IJBNPA 8:79), not a minute of
# exactly zero steps.
REST_CADENCE = 6.0  # steps per minute


def minute_steps(steps: Sequence[Sample]) -> dict[datetime, float]:
    """Steps per calendar minute (UTC, aware), for the minutes that have step data."""
    # Bucketed on epoch minutes: several times faster than datetime.replace,
    # and the rules call this for hours of samples at every evaluation.
    counts: dict[int, float] = {}
    for s in steps:
        key = int(s.at.timestamp() // 60)
        counts[key] = counts.get(key, 0.0) + s.value
    return {datetime.fromtimestamp(key * 60, UTC): count for key, count in counts.items()}


def at_rest(window: Window, minutes: int) -> bool:
    """No more than REST_CADENCE steps in any minute of the last
    ``minutes``, with step data covering most of them (a device that sends
    no steps cannot tell rest from work)."""
    key = ("at_rest", minutes)
    if key not in window.memo:
        steps = window.get("steps", timedelta(minutes=minutes))
        covered = len(steps) >= 2 and steps[-1].at - steps[0].at >= timedelta(minutes=minutes) * 0.6
        window.memo[key] = covered and all(count <= REST_CADENCE for count in minute_steps(steps).values())
    return window.memo[key]


# A minute counts as resting when neither it nor the minutes just before it
# had more than the resting cadence: the heart rate takes a while to settle
# after effort.
REST_SETTLE_MINUTES = 3


def resting_minutes_of(heart_rate: Sequence[Sample], steps: Sequence[Sample]) -> list[Sample]:
    """Per-minute mean heart rate of the resting minutes, oldest first.
    Minutes with no step data at all are not counted as resting."""
    moved = minute_steps(steps)
    beats: dict[int, list[float]] = {}
    for s in heart_rate:
        beats.setdefault(int(s.at.timestamp() // 60), []).append(s.value)
    resting = []
    for key, values in sorted(beats.items()):
        minute = datetime.fromtimestamp(key * 60, UTC)
        counts = [moved.get(minute - timedelta(minutes=k)) for k in range(REST_SETTLE_MINUTES)]
        if all(c is not None and c <= REST_CADENCE for c in counts):
            resting.append(Sample(minute, sum(values) / len(values)))
    return resting
