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
import statistics
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.baselines import baseline_from, resting_minutes
from alerts.rules.base import Profile, Sample, State, Window
from alerts.rules.device import evaluate_signal
from alerts.rules.engine import evaluate_window
from alerts.rules.thresholds import DEFAULTS, Thresholds
from alerts.services import auto_resolve_after
from devices.windows import (
    EVENT_METRICS,
    HISTORY_METRICS,
    HISTORY_SPAN,
    MINUTE_S,
    RAW_BUCKET_S,
    RAW_SPAN,
    floor_to,
    raw_buckets,
    raw_from,
)
from simulation.physiology import Episode, Physiology, Scenario, WorkerProfile, shift_on

EPISODE_SPAN = timedelta(minutes=45)
SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class ArtifactParams:
    """How wrong a real wearable is, per sample at the replay's 30-second
    sampling. The defaults and their sources are in docs/rules.md
    ("The artefact model"); ``measure_alerts`` doubles each in turn for the
    sensitivity table."""

    hr_run_rate: float = 0.01  # chance a run of bad heart-rate samples starts (x3 while stepping)
    hr_run_max: int = 3  # a run is 2..hr_run_max samples long
    hr_run_size: float = 0.6  # a bad sample is off by 25 %..this share of the true value
    hr_motion_sd: float = 5.0  # bpm, motion-correlated error while stepping (about a minute long)
    dropout_rate: float = 0.002  # chance a Bluetooth dropout starts
    dropout_max_minutes: float = 5.0  # a dropout lasts 1..this many minutes
    skin_ambient_coupling: float = 0.15  # share of the air-skin gap the skin sensor reads
    skin_drift_sd: float = 0.05  # °C per sample, a bounded random walk of the skin sensor
    step_noise_rate: float = 0.05  # chance of 1-2 phantom steps in a still sample
    step_error_sd: float = 0.15  # relative error of the step count while walking
    spo2_dip_rate: float = 0.01  # chance of a single-sample SpO2 dip to 80-90 %

    def doubled(self, name: str) -> ArtifactParams:
        value = getattr(self, name)
        return replace(self, **{name: type(value)(value * 2)})


DEFAULT_ARTIFACTS = ArtifactParams()


class Artifacts:
    """What real wearables add to clean physiology, so that a false-alert
    figure is not measured on impossibly clean data: runs of two or three bad
    optical heart-rate samples (more of them in movement), heart-rate error
    that follows movement, Bluetooth dropouts of one to five minutes, a skin
    sensor that drifts and reads part of the air, phantom and miscounted
    steps (one of them often at a fall's impact), and single SpO2 dips."""

    def __init__(self, rng: random.Random, params: ArtifactParams = DEFAULT_ARTIFACTS) -> None:
        self.rng = rng
        self.p = params
        self.silent_until: datetime | None = None
        self.hr_run_left = 0
        self.hr_run_factor = 1.0
        self.hr_motion = 0.0
        self.skin_drift = 0.0
        self.ambient: float | None = None

    def apply(self, at: datetime, values: dict[str, float]) -> dict[str, float] | None:
        """The values as sent, or None while the device is out of range."""
        rng, p = self.rng, self.p
        if self.silent_until is not None and at < self.silent_until:
            return None
        if rng.random() < p.dropout_rate:
            self.silent_until = at + timedelta(minutes=rng.uniform(1, p.dropout_max_minutes))
            return None
        values = dict(values)
        moving = values.get("steps", 0) > 0
        if "ambient_temp" in values:
            self.ambient = values["ambient_temp"]
        if "heart_rate" in values:
            true_hr = values["heart_rate"]
            # Motion-correlated error: an AR(1) with a minute's memory, only while stepping.
            self.hr_motion = 0.6 * self.hr_motion + (rng.gauss(0, p.hr_motion_sd * 0.8) if moving else 0.0)
            hr = true_hr + self.hr_motion
            if self.hr_run_left == 0 and rng.random() < p.hr_run_rate * (3 if moving else 1):
                self.hr_run_left = rng.randint(2, max(2, p.hr_run_max))
                size = rng.uniform(0.25, max(0.25, p.hr_run_size))
                self.hr_run_factor = 1 + size if rng.random() < 0.7 else max(0.3, 1 - size / 2)
            if self.hr_run_left > 0:
                self.hr_run_left -= 1
                hr = true_hr * self.hr_run_factor
            values["heart_rate"] = round(min(250, max(20, hr)))
        if "skin_temp" in values:
            self.skin_drift = max(-0.8, min(0.8, self.skin_drift + rng.gauss(0, p.skin_drift_sd)))
            skin = values["skin_temp"]
            if self.ambient is not None:
                skin += p.skin_ambient_coupling * (self.ambient - skin)
            values["skin_temp"] = round(min(45, max(20, skin + self.skin_drift)), 2)
        if "steps" in values:
            steps = values["steps"]
            if steps > 0:
                steps = max(0, round(steps * (1 + rng.gauss(0, p.step_error_sd))))
            elif rng.random() < p.step_noise_rate:
                steps = rng.randint(1, 2)
            if "fall" in values and rng.random() < 0.5:
                steps += 1  # the impact, counted as a step
            values["steps"] = steps
        if "spo2" in values and rng.random() < p.spo2_dip_rate:
            values["spo2"] = round(rng.uniform(80, 90))
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
    # kind -> (when, message) each time an active verdict first carried that message
    message_times: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

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
                    # Steps per minute are a count, anything else a mean (as window_load reads them).
                    done = current[1] if metric == "steps" else current[1] / current[2]
                    self.minutes.setdefault(metric, []).append(current[0])
                    self.means.setdefault(metric, []).append(Sample(current[0], done))
                self.current[metric] = [minute, float(value), 1]

    def window(self, now: datetime) -> Window:
        """What alerts.selectors.window_load reads at ``now`` from the
        buckets ingestion keeps (devices.windows): the raw part in
        RAW_BUCKET_S buckets from the minute of now - RAW_SPAN, per-minute
        means of HISTORY_METRICS before that, back to HISTORY_SPAN."""
        series: dict[str, list[Sample]] = {}
        start = raw_from(now)
        until = floor_to(now, RAW_BUCKET_S) + timedelta(seconds=RAW_BUCKET_S)
        for metric, samples in self.samples.items():
            times = self.times[metric]
            if metric in EVENT_METRICS:  # SOS and falls as sent, not bucketed
                recent = samples[bisect.bisect_left(times, now - RAW_SPAN) : bisect.bisect_right(times, now)]
            else:
                held = samples[bisect.bisect_left(times, start) : bisect.bisect_left(times, until)]
                recent = [Sample(at, v) for at, v in raw_buckets(metric, [(s.at, s.value) for s in held], now)]
            older: list[Sample] = []
            if metric in HISTORY_METRICS:
                minutes = self.minutes.get(metric, [])
                first = bisect.bisect_left(minutes, floor_to(now - HISTORY_SPAN, MINUTE_S))
                last = bisect.bisect_left(minutes, start)
                older = self.means.get(metric, [])[first:last]
            if recent or older:
                series[metric] = older + recent
        return Window(now=now, series=series)


class _Lifecycle:
    """The open/update/auto-resolve part of alerts.services.alert_apply,
    without a database (tests/simulation/test_replay_matches_server.py holds
    the two to the same verdicts)."""

    def __init__(self, result: ShiftResult) -> None:
        self.result = result
        self.open: dict[str, datetime | None] = {}  # kind -> clear since
        self.resolve_after = auto_resolve_after()

    def apply(self, kind: str, state: State, severity: str | None, message: str, now: datetime) -> None:
        if state is State.ACTIVE:
            if kind not in self.open:
                self.result.opened.append(Opened(kind, severity or "", now, message))
            self.open[kind] = None
            seen = self.result.messages.setdefault(kind, set())
            if message not in seen:
                seen.add(message)
                self.result.message_times.setdefault(kind, []).append((now, message))
        elif kind in self.open:
            if state is State.HOLD:
                self.open[kind] = None
            elif self.open[kind] is None:
                self.open[kind] = now
            elif now - self.open[kind] >= self.resolve_after:
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


# How long after the onset each episode is replayed (someone would respond
# by then). A fever is judged at rest only, so its replay runs past the meal
# break.
EPISODE_SPANS = {Scenario.FEVER: timedelta(hours=3)}


def replay_shift(
    profile: WorkerProfile,
    rng: random.Random,
    day: datetime,
    *,
    episode: tuple[Scenario, timedelta] | None = None,
    acclimatized: bool | None = None,
    device_core: bool = True,
    tz: ZoneInfo = SEOUL,
    sample_every: timedelta = timedelta(seconds=30),
    evaluate_every: timedelta = timedelta(minutes=1),
    thresholds: Thresholds = DEFAULTS,
    artifacts: bool = False,
    artifact_params: ArtifactParams = DEFAULT_ARTIFACTS,
) -> ShiftResult:
    """One worker's shift on ``day`` (its date in ``tz``): the alerts that
    would open. ``episode`` is a scenario and its onset after the shift
    start; the replay then stops ``EPISODE_SPAN`` (or the scenario's own
    span) after the onset, as the real episode would end when someone
    responds to it. ``device_core``: the wearable sends a core temperature;
    without it the rules estimate one from heart rate."""
    shift = shift_on(profile.shift_pattern, profile.crew, day.astimezone(tz).date(), tz)
    if shift is None:
        return ShiftResult()
    start, end = shift
    if episode:
        end = min(end, start + episode[1] + EPISODE_SPANS.get(episode[0], EPISODE_SPAN))
    baseline = resting_baseline(profile, random.Random(rng.random()), start - timedelta(hours=3), tz)
    script = Episode(episode[0], start + episode[1]) if episode else None
    model = Physiology(profile, rng, tz=tz, episode=script)
    result = ShiftResult()
    lifecycle = _Lifecycle(result)
    series = _Series()
    at = start - HISTORY_SPAN  # the wearable is on before the shift starts
    next_eval = start
    last_seen: datetime | None = None
    noise = Artifacts(random.Random(rng.random()), artifact_params) if artifacts else None
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
        if sent is not None and not device_core:
            sent = {k: v for k, v in sent.items() if k != "core_temp"}
        if sent is not None and noise is not None:
            sent = noise.apply(at, sent)
        if sent:
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
    by_stratum: Counter = field(default_factory=Counter)  # stratum -> warnings or worse
    shifts_by_stratum: Counter = field(default_factory=Counter)

    def per_worker_shift(self, severities: tuple[str, ...]) -> float:
        count = sum(n for (kind, severity), n in self.opened.items() if severity in severities)
        return count / self.worker_shifts if self.worker_shifts else 0.0


WARNING_OR_WORSE = ("warning", "urgent", "critical")


@dataclass(frozen=True)
class NormalShift:
    """One worker of the normal-shift population, and how the replay treats them."""

    profile: WorkerProfile
    acclimatized: bool | None
    device_core: bool
    stratum: str


def normal_population(index: int, rng: random.Random) -> NormalShift:
    """The ``index``-th worker of the normal-shift population. Strata cycle
    with the index, so that any run of 108 workers holds every combination:
    young (25) / older (55) / any age (22-60); acclimatized yes / unknown /
    no; a 28 °C bay, a 33 °C bay or the plant's usual 25-29.5 °C; heavy but
    safe work (45 % of heart-rate reserve, which the model keeps 12 bpm under
    180 - age) or the usual 20-42 %; with or without a device core
    temperature (without, the rules estimate it from heart rate)."""
    age = (25, 55, None)[index % 3]
    acclimatized = (True, None, False)[(index // 3) % 3]
    climate = ((28.0, 60.0), (33.0, 55.0), (None, None))[(index // 9) % 3]
    heavy = (index // 27) % 2 == 0
    device_core = (index // 54) % 2 == 0
    profile = WorkerProfile.random(rng, age=age, shift_pattern="day", crew=0)
    profile = replace(
        profile,
        plant_temp=climate[0],
        plant_humidity=climate[1],
        work_intensity=0.45 if heavy else profile.work_intensity,
    )
    stratum = "/".join(
        [
            f"age {profile.age if age else 'any'}",
            {True: "acclimatized", None: "acclimatization unknown", False: "not acclimatized"}[acclimatized],
            f"{climate[0]:.0f} °C" if climate[0] else "usual plant",
            "heavy" if heavy else "usual work",
            "device core" if device_core else "estimated core",
        ]
    )
    return NormalShift(profile, acclimatized, device_core, stratum)


def measure_normal_shifts(
    workers: int,
    day: datetime,
    *,
    seed: int = 0,
    evaluate_every: timedelta = timedelta(minutes=1),
    artifact_params: ArtifactParams = DEFAULT_ARTIFACTS,
) -> FalseAlertReport:
    """Normal day shifts (no episode) for ``workers`` simulated workers of the
    normal population (``normal_population``), with wearable artefacts:
    every alert that opens is a false alert."""
    report = FalseAlertReport(worker_shifts=0, opened=Counter(), by_kind=Counter())
    for index in range(workers):
        rng = random.Random(f"{seed}:normal:{index}")
        person = normal_population(index, rng)
        result = replay_shift(
            person.profile,
            rng,
            day,
            acclimatized=person.acclimatized,
            device_core=person.device_core,
            evaluate_every=evaluate_every,
            artifacts=True,
            artifact_params=artifact_params,
        )
        report.worker_shifts += 1
        report.shifts_by_stratum[person.stratum] += 1
        for alert in result.opened:
            report.opened[(alert.kind, alert.severity)] += 1
            report.by_kind[alert.kind] += 1
            if alert.severity in WARNING_OR_WORSE:
                report.by_stratum[person.stratum] += 1
    return report


# --- Detection of the true scenarios ---------------------------------------------------

# Each scripted episode, the alert that detects it (kind, and message when
# the kind alone does not tell), and whether the wearable sends a core
# temperature. Onset 2 h 10 min into the day shift, as in the scenario tests.
SCENARIO_ONSET = timedelta(hours=2, minutes=10)
TRUE_SCENARIOS: dict[str, tuple[Scenario, str, str | None, bool]] = {
    "heat strain (device core)": (Scenario.HEAT_STRAIN, "heat_strain", None, True),
    "heat strain (estimated core)": (Scenario.HEAT_STRAIN, "heat_strain", None, False),
    "hypoxemia": (Scenario.HYPOXEMIA, "hypoxemia", None, True),
    "fall": (Scenario.FALL, "fall", None, True),
    "fall with no movement": (Scenario.FALL_NO_MOVEMENT, "fall", "Fall with no movement", True),
    "sos": (Scenario.SOS, "sos", None, True),
    "fever": (Scenario.FEVER, "fever", None, True),
    "signal loss": (Scenario.SIGNAL_LOSS, "signal_lost", None, True),
    "heart rate lost (loose strap)": (Scenario.HEART_RATE_LOST, "no_heart_rate", None, True),
    "band removed": (Scenario.BAND_REMOVED, "off_body", None, True),
}


@dataclass(frozen=True)
class Detection:
    name: str
    runs: int
    detected: int
    delays: tuple[float, ...]  # minutes from onset to the detecting alert, of the runs that detected it

    @property
    def median(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def worst(self) -> float | None:
        return max(self.delays) if self.delays else None


def detection_delay(result: ShiftResult, onset: datetime, kind: str, message: str | None) -> float | None:
    """Minutes from the onset to the first alert of ``kind`` (carrying
    ``message`` when given), or None if none opened."""
    times = [o.at for o in result.opened if o.kind == kind]
    if message is not None:
        times = [at for at, msg in result.message_times.get(kind, []) if msg == message]
    return min((at - onset).total_seconds() / 60 for at in times) if times else None


def measure_detection(runs: int, day: datetime, *, seed: int = 0) -> list[Detection]:
    """Each true scenario replayed for ``runs`` random workers, with artefacts."""
    shift_start = shift_on("day", 0, day.astimezone(SEOUL).date(), SEOUL)[0]
    onset = shift_start + SCENARIO_ONSET
    detections = []
    for name, (scenario, kind, message, device_core) in TRUE_SCENARIOS.items():
        delays = []
        for index in range(runs):
            rng = random.Random(f"{seed}:true:{name}:{index}")
            profile = WorkerProfile.random(rng, shift_pattern="day", crew=0)
            result = replay_shift(
                profile,
                rng,
                day,
                episode=(scenario, SCENARIO_ONSET),
                acclimatized=None,
                device_core=device_core,
                artifacts=True,
            )
            delay = detection_delay(result, onset, kind, message)
            if delay is not None:
                delays.append(delay)
        detections.append(Detection(name, runs, len(delays), tuple(delays)))
    return detections


def measure_sensitivity(workers: int, day: datetime, *, seed: int = 0) -> list[tuple[str, float, FalseAlertReport]]:
    """False warnings per worker-shift with each artefact parameter doubled
    in turn (the first row: the defaults)."""
    rows = [("(defaults)", 0.0, measure_normal_shifts(workers, day, seed=seed))]
    for name in (f.name for f in fields(ArtifactParams)):
        params = DEFAULT_ARTIFACTS.doubled(name)
        report = measure_normal_shifts(workers, day, seed=seed, artifact_params=params)
        rows.append((name, getattr(params, name), report))
    return rows
