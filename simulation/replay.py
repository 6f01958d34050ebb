"""Replaying simulated shifts through the risk engine, fast and in memory.

The simulated wearer (``simulation.physiology``, the same model the simulator
streams over WebSockets) produces samples; every ``evaluate_every`` the
engine (``alerts.rules.engine.evaluate_window``) judges the window the server
would load at that moment, and a mirror of the alert lifecycle
(``alerts.services.alert_apply``: one open alert per kind, automatic
resolution after a clear period, holds restart it) counts the alerts that
would open. Used by the scenario tests and by ``manage.py measure_alerts``
to measure false alerts on normal shifts without a database.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.baselines import baseline_from, resting_minutes
from alerts.rules.base import Profile, Sample, State, Window
from alerts.rules.device import evaluate_signal
from alerts.rules.engine import evaluate_window
from alerts.rules.thresholds import DEFAULTS, Thresholds
from alerts.selectors import HISTORY_METRICS, HISTORY_SPAN, RAW_SPAN
from simulation.physiology import Episode, Physiology, Scenario, WorkerProfile, shift_on

AUTO_RESOLVE_AFTER = timedelta(minutes=10)
EPISODE_SPAN = timedelta(minutes=45)
SEOUL = ZoneInfo("Asia/Seoul")


class Artifacts:
    """What real wearables add to clean physiology, so that a false-alert
    figure is not measured on impossibly clean data: single-sample SpO2 dips
    (motion, poor contact), single heart-rate spikes, and short Bluetooth
    dropouts. Rates per sample."""

    SPO2_DIP = 0.01
    HR_SPIKE = 0.005
    DROPOUT = 0.002

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.silent_until: datetime | None = None

    def apply(self, at: datetime, values: dict[str, float]) -> dict[str, float] | None:
        """The values as sent, or None while the device is out of range."""
        rng = self.rng
        if self.silent_until is not None and at < self.silent_until:
            return None
        if rng.random() < self.DROPOUT:
            self.silent_until = at + timedelta(seconds=rng.uniform(60, 180))
            return None
        values = dict(values)
        if "spo2" in values and rng.random() < self.SPO2_DIP:
            values["spo2"] = round(rng.uniform(80, 90))
        if "heart_rate" in values and rng.random() < self.HR_SPIKE:
            values["heart_rate"] = min(250, round(values["heart_rate"] * rng.uniform(1.3, 1.7)))
        return values


@dataclass(frozen=True)
class Opened:
    kind: str
    severity: str
    at: datetime
    message: str


@dataclass
class ShiftResult:
    opened: list[Opened] = field(default_factory=list)
    messages: dict[str, set[str]] = field(default_factory=dict)

    @property
    def kinds(self) -> set[str]:
        return {o.kind for o in self.opened}


class _Series:
    """Samples per metric, oldest first, with the window the server would load."""

    def __init__(self) -> None:
        self.samples: dict[str, list[Sample]] = {}
        self.times: dict[str, list[datetime]] = {}
        # Per-minute means of completed minutes, kept as samples arrive
        # (times only increase), and the running sum of the current minute.
        self.minutes: dict[str, list[datetime]] = {}
        self.means: dict[str, list[Sample]] = {}
        self.current: dict[str, list] = {}  # metric -> [minute, sum, count]

    def add(self, at: datetime, values: dict[str, float]) -> None:
        minute = at.replace(second=0, microsecond=0)
        for metric, value in values.items():
            self.samples.setdefault(metric, []).append(Sample(at, float(value)))
            self.times.setdefault(metric, []).append(at)
            if metric in HISTORY_METRICS:
                current = self.current.get(metric)
                if current is not None and current[0] == minute:
                    current[1] += value
                    current[2] += 1
                    continue
                if current is not None:
                    self.minutes.setdefault(metric, []).append(current[0])
                    self.means.setdefault(metric, []).append(Sample(current[0], current[1] / current[2]))
                self.current[metric] = [minute, float(value), 1]

    def window(self, now: datetime) -> Window:
        """Raw samples for the last RAW_SPAN, per-minute means before that for
        HISTORY_METRICS back to HISTORY_SPAN: what alerts.selectors.window_load
        reads (here whole minutes only)."""
        series: dict[str, list[Sample]] = {}
        for metric, samples in self.samples.items():
            times = self.times[metric]
            end = bisect.bisect_right(times, now)
            recent = samples[bisect.bisect_left(times, now - RAW_SPAN) : end]
            older: list[Sample] = []
            if metric in HISTORY_METRICS:
                minutes = self.minutes.get(metric, [])
                first = bisect.bisect_left(minutes, now - HISTORY_SPAN)
                last = bisect.bisect_right(minutes, now - RAW_SPAN - timedelta(minutes=1))
                older = self.means.get(metric, [])[first:last]
            if recent or older:
                series[metric] = older + recent
        return Window(now=now, series=series)


class _Lifecycle:
    """The open/update/auto-resolve part of alert_apply, without a database."""

    def __init__(self, result: ShiftResult) -> None:
        self.result = result
        self.open: dict[str, datetime | None] = {}  # kind -> clear since

    def apply(self, kind: str, state: State, severity: str | None, message: str, now: datetime) -> None:
        if state is State.ACTIVE:
            if kind not in self.open:
                self.result.opened.append(Opened(kind, severity or "", now, message))
            self.open[kind] = None
            self.result.messages.setdefault(kind, set()).add(message)
        elif kind in self.open:
            if state is State.HOLD:
                self.open[kind] = None
            elif self.open[kind] is None:
                self.open[kind] = now
            elif now - self.open[kind] >= AUTO_RESOLVE_AFTER:
                del self.open[kind]


def resting_baseline(profile: WorkerProfile, rng: random.Random, until: datetime, tz: ZoneInfo) -> Profile | None:
    """The worker's resting heart-rate baseline from the day before ``until``,
    computed as alerts.services.baseline_refresh does (per-minute means)."""
    model = Physiology(profile, rng, tz=tz)
    rows = []
    at = until - timedelta(days=1)
    while at < until:
        values = model.sample(at).values
        minute = int(at.timestamp()) // 60 * 60
        rows.append((minute, "heart_rate", float(values["heart_rate"])))
        rows.append((minute, "steps", float(values["steps"])))
        at += timedelta(minutes=1)
    computed = baseline_from(resting_minutes(rows))
    if computed is None:
        return None
    return Profile(age=profile.age, rest_hr_baseline=computed[0], rest_hr_spread=computed[1])


def replay_shift(
    profile: WorkerProfile,
    rng: random.Random,
    day: datetime,
    *,
    episode: tuple[Scenario, timedelta] | None = None,
    acclimatized: bool = False,
    tz: ZoneInfo = SEOUL,
    sample_every: timedelta = timedelta(seconds=30),
    evaluate_every: timedelta = timedelta(minutes=1),
    thresholds: Thresholds = DEFAULTS,
    artifacts: bool = False,
) -> ShiftResult:
    """One worker's shift on ``day`` (its date in ``tz``): the alerts that
    would open. ``episode`` is a scenario and its onset after the shift
    start; the replay then stops ``EPISODE_SPAN`` after the onset, as the
    real episode would end when someone responds to it."""
    shift = shift_on(profile.shift_pattern, profile.crew, day.astimezone(tz).date(), tz)
    if shift is None:
        return ShiftResult()
    start, end = shift
    if episode:
        end = min(end, start + episode[1] + EPISODE_SPAN)
    baseline = resting_baseline(profile, random.Random(rng.random()), start - timedelta(hours=3), tz)
    script = Episode(episode[0], start + episode[1]) if episode else None
    model = Physiology(profile, rng, tz=tz, episode=script)
    result = ShiftResult()
    lifecycle = _Lifecycle(result)
    series = _Series()
    at = start - HISTORY_SPAN  # the wearable is on before the shift starts
    next_eval = start
    last_seen: datetime | None = None
    noise = Artifacts(random.Random(rng.random())) if artifacts else None
    person = Profile(
        age=profile.age,
        acclimatized=acclimatized,
        on_shift=True,
        rest_hr_baseline=baseline.rest_hr_baseline if baseline else None,
        rest_hr_spread=baseline.rest_hr_spread if baseline else None,
    )
    while at <= end:
        sample = model.sample(at)
        sent = sample.values if sample.transmitting else None
        if sent is not None and noise is not None:
            sent = noise.apply(at, sent)
        if sent is not None:
            series.add(at, sent)
            last_seen = at
        if at >= next_eval:
            next_eval += evaluate_every
            verdicts = evaluate_window(series.window(at), person, thresholds)
            verdicts.append(evaluate_signal(last_seen, at, True, thresholds))
            for v in verdicts:
                lifecycle.apply(v.kind, v.state, v.severity.label if v.severity else None, v.message, at)
        at += sample_every
    return result


@dataclass
class FalseAlertReport:
    worker_shifts: int
    opened: Counter
    by_kind: Counter

    def per_worker_shift(self, severities: tuple[str, ...]) -> float:
        count = sum(n for (kind, severity), n in self.opened.items() if severity in severities)
        return count / self.worker_shifts if self.worker_shifts else 0.0


def measure_normal_shifts(
    workers: int, day: datetime, *, seed: int = 0, evaluate_every: timedelta = timedelta(minutes=1)
) -> FalseAlertReport:
    """Normal day shifts (no episode) for ``workers`` simulated workers: every
    alert that opens is a false alert."""
    opened: Counter = Counter()
    by_kind: Counter = Counter()
    shifts = 0
    for index in range(workers):
        rng = random.Random(f"{seed}:normal:{index}")
        profile = WorkerProfile.random(rng, shift_pattern="day", crew=0)
        result = replay_shift(
            profile, rng, day, acclimatized=rng.random() < 0.5, evaluate_every=evaluate_every, artifacts=True
        )
        shifts += 1
        for alert in result.opened:
            opened[(alert.kind, alert.severity)] += 1
            by_kind[alert.kind] += 1
    return FalseAlertReport(worker_shifts=shifts, opened=opened, by_kind=by_kind)
