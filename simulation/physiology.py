"""The simulated wearer: believable vital signs for one factory worker.

A pure model: no I/O and no clock. The caller passes the time of every
sample and a ``random.Random`` seeded per device, so the same seed and the
same sample times give the same values, and tests can simulate a whole day
in milliseconds. The network side lives in ``simulation.simulator``.

What it models, deliberately simply:
- the shift schedule of the worker's pattern (work blocks of 50 minutes, a
  10-minute break each hour, a meal hour mid-shift; sleep before the next
  shift), which sets the activity phase;
- heart rate relaxing towards a phase target (a share of the heart-rate
  reserve while working), with autocorrelated noise;
- a circadian core-temperature rhythm (peak late afternoon) plus heat
  stored while working, skin temperature following core and ambient;
- SpO2 95-99, respiration rate and HRV (RMSSD) tied to heart rate, steps
  while moving, plant climate, a slowly draining battery;
- scripted episodes (``Scenario``) that bend these towards a clinical
  signature from an onset time, ramping over ``Episode.ramp``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from devices.protocol import METRICS

DEFAULT_TZ = ZoneInfo("Asia/Seoul")

# Metrics sent with every sample, and the slower ones a wearable reports
# less often (ambient climate, battery, HRV over a window).
FAST_METRICS = ("heart_rate", "spo2", "skin_temp", "core_temp", "resp_rate", "steps")
# What an optical (PPG) sensor derives: none of it without skin contact.
OPTICAL_METRICS = ("heart_rate", "spo2", "hrv_rmssd", "resp_rate")
SLOW_METRICS = ("hrv_rmssd", "ambient_temp", "ambient_humidity", "battery")


class Scenario(StrEnum):
    HEAT_STRAIN = "heat_strain"
    HYPOXEMIA = "hypoxemia"
    FALL = "fall"  # falls, lies still a few seconds, gets up and walks on slowly
    FALL_NO_MOVEMENT = "fall_no_movement"  # falls and does not get up
    SOS = "sos"
    FEVER = "fever"
    SIGNAL_LOSS = "signal_loss"
    # The strap loosens: the optical sensor loses the skin (no heart rate, SpO2,
    # HRV or breathing rate), while skin temperature and steps go on.
    HEART_RATE_LOST = "heart_rate_lost"
    # The band is taken off and laid down: no optical readings, skin
    # temperature falls to the air's, no steps.
    BAND_REMOVED = "band_removed"


# The event a scenario's wearable sends once at its onset.
EVENT_METRIC = {Scenario.FALL: "fall", Scenario.FALL_NO_MOVEMENT: "fall", Scenario.SOS: "sos"}
FALL_GETS_UP_AFTER_S = 20.0


class Phase(StrEnum):
    SLEEP = "sleep"
    OFF = "off"  # off shift, awake
    WORK = "work"
    BREAK = "break"


# --- Shift schedule ----------------------------------------------------------

WORK_MINUTES_PER_HOUR = 50  # then a 10-minute break, as many Korean plants do


def shift_hours(pattern: str, crew: int, day: date) -> tuple[int, int]:
    """(start hour, length in hours) of the shift this crew would start on
    ``day`` if it works that day.

    Rotating patterns change every ISO week; ``crew`` offsets the rotation so
    that different crews cover different shifts in the same week. The fixed
    patterns keep the usual hours that ``workers.selectors.worker_on_shift``
    assumes (day 08-17, night 20-05).
    """
    week = day.isocalendar().week
    if pattern == "night":
        return 20, 9
    if pattern == "two_shift":  # 주야 2교대: 12-hour day and night shifts
        return (8, 12) if (week + crew) % 2 == 0 else (20, 12)
    if pattern == "three_shift":  # 3조 3교대
        return (6, 14, 22)[(week + crew) % 3], 8
    return 8, 9  # day shift, and anything unknown


def works_on(pattern: str, day: date) -> bool:
    """Day workers have weekends off; night and rotating crews keep the plant running."""
    return pattern not in ("day", "") or day.weekday() < 5


def shift_on(pattern: str, crew: int, day: date, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The (start, end) of the shift this crew starts on ``day``, in ``tz``;
    None on a day off. This is the simulated plant's roster: the simulator
    follows it and ``manage.py seed_demo`` stores it as the workers' shifts."""
    if not works_on(pattern, day):
        return None
    hour, length = shift_hours(pattern, crew, day)
    start = datetime.combine(day, time(hour), tzinfo=tz)
    return start, start + timedelta(hours=length)


def phase_at(pattern: str, crew: int, local: datetime) -> Phase:
    """The activity phase of a worker on ``pattern`` at the aware time ``local``
    (in the site's time zone).

    On shift: WORK for the first 50 minutes of each hour, BREAK for the rest,
    and BREAK for the whole meal hour (the fifth hour, and the ninth of a
    12-hour shift). Off shift: SLEEP from 9 hours to 1.5 hours before the
    next shift starts, OFF otherwise.
    """
    tz = local.tzinfo
    if tz is None:
        raise ValueError("phase_at needs an aware time in the site's time zone")
    today = local.date()
    for day in (today - timedelta(days=1), today):
        shift = shift_on(pattern, crew, day, tz)
        if shift is not None and shift[0] <= local < shift[1]:
            start, end = shift
            elapsed_min = (local - start).total_seconds() / 60
            hour_index = int(elapsed_min // 60)
            if hour_index == 4 or (end - start >= timedelta(hours=12) and hour_index == 8):
                return Phase.BREAK
            return Phase.WORK if elapsed_min % 60 < WORK_MINUTES_PER_HOUR else Phase.BREAK
    # Off shift: asleep before the usual start time, even on a day off.
    for day in (today, today + timedelta(days=1)):
        start = datetime.combine(day, time(shift_hours(pattern, crew, day)[0]), tzinfo=tz)
        if start > local:
            if start - timedelta(hours=9) <= local < start - timedelta(hours=1, minutes=30):
                return Phase.SLEEP
            return Phase.OFF
    return Phase.OFF  # pragma: no cover - a shift starts every day


# --- The worker --------------------------------------------------------------


@dataclass(frozen=True)
class WorkerProfile:
    """The physiology of one simulated worker; fixed for a run."""

    age: int
    resting_hr: float
    shift_pattern: str = "day"
    crew: int = 0
    work_intensity: float = 0.3  # share of heart-rate reserve used while working
    cadence: float = 20.0  # steps per minute while working
    heat_exposed: bool = False  # works at a furnace, casting line, welding bay...
    core_base: float = 36.65  # mean core temperature, °C
    # The bay's air while working (°C, %), when it is not the plant's usual
    # 25-29.5 °C: heavy-but-safe work in a hot bay is simulated with these.
    plant_temp: float | None = None
    plant_humidity: float | None = None
    hrv_base: float = 45.0  # RMSSD at rest, ms
    resp_base: float = 14.0  # breaths per minute at rest

    @property
    def max_hr(self) -> float:
        # Tanaka et al. (2001): fits adults better than 220 - age.
        return 208 - 0.7 * self.age

    @classmethod
    def random(
        cls,
        rng: random.Random,
        *,
        age: int | None = None,
        shift_pattern: str | None = None,
        crew: int | None = None,
        heat_exposed: bool | None = None,
    ) -> WorkerProfile:
        """A plausible worker, with the given traits and the rest drawn from ``rng``."""
        age = age if age is not None else rng.randint(22, 60)
        if heat_exposed is None:
            heat_exposed = rng.random() < 0.3
        return cls(
            age=age,
            resting_hr=_clamp(rng.gauss(66, 7), 50, 85),
            shift_pattern=shift_pattern or rng.choice(["day", "day", "three_shift", "two_shift", "night"]),
            crew=crew if crew is not None else rng.randrange(3),
            work_intensity=rng.uniform(0.2, 0.38) + (0.04 if heat_exposed else 0.0),
            # Work moves about: slower than this, a wrist pedometer cannot
            # tell work from a worker standing still.
            cadence=rng.uniform(15, 45),
            heat_exposed=heat_exposed,
            # Kept low enough that circadian peak plus working heat stays
            # under 37.5 °C, the fever threshold of the alert rules.
            core_base=_clamp(rng.gauss(36.65, 0.1), 36.4, 36.85),
            hrv_base=_clamp(rng.gauss(62 - 0.7 * (age - 20), 8), 15, 100),
            resp_base=rng.uniform(12, 16),
        )


@dataclass(frozen=True)
class Episode:
    """A scripted episode: ``scenario`` from ``onset``, reaching full strength
    after ``ramp`` (events and signal loss happen at once)."""

    scenario: Scenario
    onset: datetime
    ramp: timedelta = timedelta(minutes=2)

    def severity(self, at: datetime) -> float:
        """0 before the onset, rising linearly to 1 at the end of the ramp."""
        if at < self.onset:
            return 0.0
        if self.ramp <= timedelta(0):
            return 1.0
        return min(1.0, (at - self.onset) / self.ramp)


@dataclass(frozen=True)
class Sample:
    """What the wearable measured at ``at``: metric -> value, ready to send.
    ``transmitting`` is False once the device has lost its signal for good."""

    at: datetime
    phase: Phase
    values: dict[str, float | int] = field(default_factory=dict)
    transmitting: bool = True


# How fast things follow their targets (time constants, seconds).
_HR_TAU = 45.0  # heart rate settles within a few minutes of a change in effort
_HR_NOISE_TAU = 20.0
_HEAT_TAU = 900.0  # body heat builds and sheds over a quarter of an hour
_CLIMATE_TAU = 600.0


class Physiology:
    """The state of one worker's body and wearable between samples.

    ``sample(at)`` must be called with non-decreasing times; it advances the
    state by the time since the previous sample and returns what the device
    reports. Every value is within the protocol's valid range for its metric.
    """

    def __init__(
        self,
        profile: WorkerProfile,
        rng: random.Random,
        *,
        tz: ZoneInfo = DEFAULT_TZ,
        episode: Episode | None = None,
        battery: float | None = None,
        slow_every: timedelta = timedelta(seconds=30),
    ) -> None:
        self.profile = profile
        self.rng = rng
        self.tz = tz
        self.episode = episode
        self.slow_every = slow_every
        self.battery = battery if battery is not None else rng.uniform(55, 100)
        self._last: datetime | None = None
        self._last_slow: datetime | None = None
        self._hr: float | None = None
        self._hr_noise = 0.0
        self._heat: float | None = None
        self._spo2_drift = 0.0
        self._ambient: float | None = None
        self._humidity: float | None = None
        self._event_sent = False

    # -- targets per phase ----------------------------------------------------
    def _hr_target(self, phase: Phase) -> float:
        p = self.profile
        reserve = p.max_hr - p.resting_hr
        if phase is Phase.SLEEP:
            return p.resting_hr - 6
        if phase is Phase.OFF:
            return p.resting_hr + 6
        if phase is Phase.BREAK:
            return p.resting_hr + 12
        working = p.resting_hr + p.work_intensity * reserve + (5 if p.heat_exposed else 0)
        # A normal shift stays clear of the heat-strain limit (sustained HR
        # above 180 - age): only the heat_strain episode crosses it.
        return min(working, 180 - p.age - 12)

    def _heat_target(self, phase: Phase) -> float:
        p = self.profile
        if phase is Phase.WORK:
            # Harder work and hotter air store more heat: heavy work in a
            # 33 °C bay holds the core near 37.5-37.8 °C, as real heavy work does.
            air = self._ambient if self._ambient is not None else 25.0
            return (
                0.15
                + (0.1 if p.heat_exposed else 0.0)
                + 0.8 * max(0.0, p.work_intensity - 0.3)
                + 0.04 * max(0.0, air - 27.0)
            )
        return {Phase.SLEEP: -0.15, Phase.OFF: 0.0, Phase.BREAK: 0.05}[phase]

    def _climate_target(self, phase: Phase, local: datetime) -> tuple[float, float]:
        if phase is Phase.WORK and self.profile.plant_temp is not None:
            hour = local.hour + local.minute / 60
            temp = self.profile.plant_temp + 0.5 * math.sin(2 * math.pi * (hour - 9) / 24)
            return temp, self.profile.plant_humidity or 50.0
        if phase is Phase.WORK:
            hour = local.hour + local.minute / 60
            # Plants warm up through the afternoon; hot bays run warmer, but a
            # normal day stays under a heat index of 33 °C (the Korean rest
            # rule's trigger), which only the heat_strain episode exceeds.
            temp = 25 + 1.5 * math.sin(2 * math.pi * (hour - 9) / 24) + (3 if self.profile.heat_exposed else 0)
            return temp, 50 + (5 if self.profile.heat_exposed else 0)
        if phase is Phase.BREAK:
            return 24.0, 50.0  # break room
        return 23.0, 45.0  # at home

    # -- the model ------------------------------------------------------------
    def sample(self, at: datetime) -> Sample:
        """Advance to ``at`` (aware) and return what the wearable reports then."""
        rng, p = self.rng, self.profile
        dt = 0.0 if self._last is None else max(0.0, (at - self._last).total_seconds())
        self._last = at
        local = at.astimezone(self.tz)
        phase = phase_at(p.shift_pattern, p.crew, local)

        ep = self.episode
        scenario = ep.scenario if ep is not None and at >= ep.onset else None
        s = ep.severity(at) if ep is not None else 0.0
        since_onset = (at - ep.onset).total_seconds() if ep is not None else 0.0

        if scenario is Scenario.SIGNAL_LOSS:
            return Sample(at=at, phase=phase, transmitting=False)
        if scenario is Scenario.HEAT_STRAIN:
            phase = Phase.WORK  # pushing on through the breaks, in the heat

        def relax(current: float | None, target: float, tau: float) -> float:
            if current is None:
                return target
            return current + (target - current) * (1 - math.exp(-dt / tau))

        # Heart rate: first-order response to effort, plus autocorrelated noise.
        hr_target = self._hr_target(phase)
        if scenario is Scenario.HEAT_STRAIN:
            # Above the 180 - age ceiling commonly used in heat-stress guidance.
            hr_target += s * max(0.0, (180 - p.age) + 15 - hr_target)
        elif scenario is Scenario.HYPOXEMIA:
            hr_target += 12 * s
        elif scenario is Scenario.FEVER:
            hr_target += 14 * s  # about 10 beats/min per °C of fever
        elif scenario in (Scenario.FALL, Scenario.FALL_NO_MOVEMENT):
            # A fright spike that fades, then lying still (or slowly moving on).
            hr_target = p.resting_hr + 8 + 30 * math.exp(-since_onset / 90)
        elif scenario is Scenario.SOS:
            hr_target += 20 * math.exp(-since_onset / 600)
        self._hr = relax(self._hr, hr_target, _HR_TAU)
        decay = math.exp(-dt / _HR_NOISE_TAU)
        self._hr_noise = self._hr_noise * decay + rng.gauss(0, 2.0) * math.sqrt(1 - decay * decay)
        heart_rate = self._hr + self._hr_noise + rng.gauss(0, 1.0)

        # Core temperature: circadian rhythm (peak ~17:00, trough ~05:00) plus stored heat.
        hour = local.hour + local.minute / 60 + local.second / 3600
        circadian = 0.25 * math.cos(2 * math.pi * (hour - 17) / 24)
        self._heat = relax(self._heat, self._heat_target(phase), _HEAT_TAU)
        core = p.core_base + circadian + self._heat + rng.gauss(0, 0.04)
        if scenario is Scenario.HEAT_STRAIN:
            core += s * (39.3 + rng.gauss(0, 0.05) - core)
        elif scenario is Scenario.FEVER:
            # A low-grade fever: over the 37.5 °C fever line, under the
            # 38.0 °C heat-strain limit for unacclimatized workers.
            core += s * (37.85 + 0.3 * circadian + rng.gauss(0, 0.04) - core)

        # Plant climate (the heat-strain episode is a hot, humid bay).
        amb_target, hum_target = self._climate_target(phase, local)
        if scenario is Scenario.HEAT_STRAIN:
            amb_target += s * (36.0 - amb_target)
            hum_target += s * (72.0 - hum_target)
        self._ambient = relax(self._ambient, amb_target, _CLIMATE_TAU)
        self._humidity = relax(self._humidity, hum_target, _CLIMATE_TAU)
        ambient = self._ambient + rng.gauss(0, 0.2)
        humidity = self._humidity + rng.gauss(0, 1.5)

        # Skin follows ambient and stored heat; warmer extremities in sleep.
        skin = 33.2 + 0.12 * (ambient - 24) + 0.6 * self._heat + (0.5 if phase is Phase.SLEEP else 0.0)
        skin += rng.gauss(0, 0.15)
        if scenario is Scenario.HEAT_STRAIN:
            skin += s * (36.4 - skin)
        elif scenario is Scenario.FEVER:
            skin += 1.0 * s

        # SpO2: healthy 95-99 with a slow drift; the hypoxemia episode sits at 86-90.
        decay = math.exp(-dt / 120)
        self._spo2_drift = self._spo2_drift * decay + rng.gauss(0, 0.6) * math.sqrt(1 - decay * decay)
        spo2 = _clamp(97.4 + self._spo2_drift + rng.gauss(0, 0.4) - (0.6 if phase is Phase.SLEEP else 0), 95, 99)
        if scenario is Scenario.HYPOXEMIA:
            low = _clamp(88 + rng.gauss(0, 0.8), 86, 90)
            spo2 = spo2 + s * (low - spo2)

        # Breathing follows effort; HRV falls as heart rate rises.
        resp = p.resp_base + 0.12 * max(0.0, heart_rate - p.resting_hr) + rng.gauss(0, 0.7)
        if scenario is Scenario.HYPOXEMIA:
            resp += 6 * s
        elif scenario is Scenario.FEVER:
            resp += 3 * s
        hrv = p.hrv_base * (p.resting_hr / max(heart_rate, 30)) ** 2 * math.exp(rng.gauss(0, 0.15))
        if scenario is Scenario.FEVER:
            hrv *= 1 - 0.3 * s

        # Steps since the previous sample.
        cadence = {Phase.WORK: p.cadence, Phase.BREAK: 3.0, Phase.OFF: 4.0, Phase.SLEEP: 0.0}[phase]
        if scenario is Scenario.FALL_NO_MOVEMENT:
            cadence = 0.0  # down and not getting up
        elif scenario is Scenario.FALL:
            # Down for 20 seconds, then up and walking on, carefully.
            cadence = 0.0 if since_onset < FALL_GETS_UP_AFTER_S else max(cadence * 0.5, 30.0)
        elif scenario is Scenario.SOS:
            cadence *= 0.2
        expected = cadence * rng.uniform(0.5, 1.5) * dt / 60
        steps = round(max(0.0, rng.gauss(expected, math.sqrt(expected)))) if expected > 0 else 0

        # Battery: about a day and a half of wear from a full charge.
        self.battery = max(5.0, self.battery - (1.0 + (0.6 if phase is Phase.WORK else 0.0)) * dt / 3600)

        values: dict[str, float | int] = {
            "heart_rate": round(heart_rate),
            "spo2": round(spo2),
            "skin_temp": round(skin, 2),
            "core_temp": round(core, 2),
            "resp_rate": round(resp),
            "steps": steps,
        }
        if self._last_slow is None or at - self._last_slow >= self.slow_every:
            self._last_slow = at
            values.update(
                hrv_rmssd=round(hrv, 1),
                ambient_temp=round(ambient, 1),
                ambient_humidity=round(humidity),
                battery=round(self.battery),
            )
        if scenario is Scenario.HEART_RATE_LOST:
            for metric in OPTICAL_METRICS:
                values.pop(metric, None)
        elif scenario is Scenario.BAND_REMOVED:
            for metric in OPTICAL_METRICS:
                values.pop(metric, None)
            # Off the wrist: the skin sensor cools to the air within minutes.
            values["skin_temp"] = round(ambient + (skin - ambient) * math.exp(-since_onset / 120), 2)
            values["steps"] = 0
            values.pop("core_temp", None)
        if scenario in EVENT_METRIC and not self._event_sent:
            self._event_sent = True
            values[EVENT_METRIC[scenario]] = 1
        return Sample(at=at, phase=phase, values=_within_protocol(values))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _within_protocol(values: dict[str, float | int]) -> dict[str, float | int]:
    """Clamp to the protocol's valid ranges, so a simulated device never sends
    what a real one could not (the server would reject it as out_of_range)."""
    out: dict[str, float | int] = {}
    for metric, value in values.items():
        spec = METRICS[metric]
        clamped = _clamp(value, spec.low, spec.high)
        out[metric] = type(value)(clamped) if clamped != value else value
    return out
