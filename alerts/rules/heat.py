"""Heat: the heat index, core temperature estimated from heart rate, the
Physiological Strain Index, the ACGIH heat-strain limits, and the Korean
heat-index rest rule."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerts.rules import messages
from alerts.rules.base import (
    REST_CADENCE,
    Evaluation,
    Sample,
    Severity,
    Window,
    median,
    minute_steps,
    samples_evidence,
    sustained,
)
from alerts.rules.thresholds import Thresholds

HEAT_STRAIN = "heat_strain"
REST_OVERDUE = "rest_overdue"


# --- Heat index (US National Weather Service) -----------------------------


def heat_index_c(temp_c: float, humidity: float) -> float:
    """Heat index in °C, as the NWS calculator computes it
    (https://www.wpc.ncep.noaa.gov/html/heatindex_equation.shtml): Steadman's
    simple formula averaged with the temperature,
    HI = 0.5·(T + 61 + (T − 68)·1.2 + 0.094·RH); when that average is 80 °F
    or more, the Rothfusz regression with its two humidity adjustments.

    The 0.5·(…) already is the average with the temperature: averaging it
    with T a second time (as this function once did) moves the switch and
    under-reads humid air near 80 °F by up to 1.25 °C (26.1 °C at 94 %)."""
    t = temp_c * 9 / 5 + 32
    rh = humidity
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    if simple < 80:
        hi = simple
    else:
        hi = (
            -42.379
            + 2.04901523 * t
            + 10.14333127 * rh
            - 0.22475541 * t * rh
            - 0.00683783 * t * t
            - 0.05481717 * rh * rh
            + 0.00122874 * t * t * rh
            + 0.00085282 * t * rh * rh
            - 0.00000199 * t * t * rh * rh
        )
        if rh < 13 and 80 <= t <= 112:
            hi -= ((13 - rh) / 4) * math.sqrt((17 - abs(t - 95)) / 17)
        elif rh > 85 and 80 <= t <= 87:
            hi += ((rh - 85) / 10) * ((87 - t) / 5)
    return (hi - 32) * 5 / 9


# --- Apparent temperature (Korea Meteorological Administration) ------------


def stull_wet_bulb_c(temp_c: float, humidity: float) -> float:
    """Wet-bulb temperature from air temperature and relative humidity.

    Stull R, "Wet-bulb temperature from relative humidity and air
    temperature", J. Appl. Meteor. Climatol. 50 (2011) 2267-2269, eq. 1
    (within about 0.3 °C for 5-99 % RH and −20 to 50 °C at sea level).
    """
    t, rh = temp_c, humidity
    return (
        t * math.atan(0.151977 * math.sqrt(rh + 8.313659))
        + math.atan(t + rh)
        - math.atan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * math.atan(0.023101 * rh)
        - 4.686035
    )


def kma_apparent_temperature_c(temp_c: float, humidity: float) -> float:
    """The KMA's summer apparent temperature (체감온도, May-September), in °C:
    AT = −0.2442 + 0.55399·Tw + 0.45535·Ta − 0.0022·Tw² + 0.00278·Tw·Ta + 3.0,
    with Tw the Stull wet-bulb temperature. It is the index behind the
    Korean heat-wave warnings (폭염특보 at 33 and 35 °C since 2020) and the
    occupational rest rule's 31/33/35 °C levels; it reads far lower than
    the US heat index in humid heat (31 °C / 70 %: 32.3 against 37.6).
    """
    tw = stull_wet_bulb_c(temp_c, humidity)
    return -0.2442 + 0.55399 * tw + 0.45535 * temp_c - 0.0022 * tw * tw + 0.00278 * tw * temp_c + 3.0


# --- Core temperature from heart rate (Buller et al. 2013) -----------------

# Buller MJ et al., "Estimation of human core temperature from sequential heart
# rate observations", Physiol. Meas. 34 (2013) 781-798: a one-dimensional
# Kalman filter over 1-minute heart rate, with the observation model
# HR = b2·CT² + b1·CT + b0.
KALMAN_A = 1.0
KALMAN_GAMMA = 0.022**2  # process noise variance (°C² per minute)
KALMAN_B0 = -7887.1
KALMAN_B1 = 384.4286
KALMAN_B2 = -4.5714
KALMAN_SIGMA = 18.88**2  # observation noise variance (bpm²)
KALMAN_CT0 = 37.1
KALMAN_V0 = 0.0


@dataclass(frozen=True)
class CoreEstimate:
    celsius: float
    variance: float


def core_temp_step(previous: CoreEstimate, heart_rate: float) -> CoreEstimate:
    """One minute of the filter: predict, then correct with that minute's mean heart rate."""
    ct_pred = KALMAN_A * previous.celsius
    v_pred = KALMAN_A**2 * previous.variance + KALMAN_GAMMA
    slope = 2 * KALMAN_B2 * ct_pred + KALMAN_B1
    gain = v_pred * slope / (slope**2 * v_pred + KALMAN_SIGMA)
    expected_hr = KALMAN_B2 * ct_pred**2 + KALMAN_B1 * ct_pred + KALMAN_B0
    return CoreEstimate(ct_pred + gain * (heart_rate - expected_hr), (1 - gain * slope) * v_pred)


def minute_means(samples: Sequence[Sample]) -> list[tuple[datetime, float]]:
    """Heart rate averaged per calendar minute, oldest first."""
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int(s.at.timestamp() // 60), []).append(s.value)
    return [(datetime.fromtimestamp(key * 60, UTC), sum(v) / len(v)) for key, v in sorted(buckets.items())]


def core_temp_estimate(heart_rate: Sequence[Sample], start: CoreEstimate | None = None) -> float | None:
    """Estimated core temperature after the given heart-rate series (None
    without data). A gap of more than 30 minutes restarts the filter, as the
    model assumes a continuous series."""
    estimate = start or CoreEstimate(KALMAN_CT0, KALMAN_V0)
    previous: datetime | None = None
    result = None
    for minute, hr in minute_means(heart_rate):
        if previous is not None and minute - previous > timedelta(minutes=30):
            estimate = CoreEstimate(KALMAN_CT0, KALMAN_V0)
        estimate = core_temp_step(estimate, hr)
        previous = minute
        result = estimate.celsius
    return result


# --- Physiological Strain Index (Moran et al. 1998) -------------------------

# The resting core temperature the PSI counts from: the same value the
# Kalman estimate starts at, so that a resting worker's PSI starts at 0.
REST_CORE = KALMAN_CT0


def physiological_strain_index(core_t: float, hr_t: float, core_0: float = REST_CORE, hr_0: float = 70.0) -> float:
    """PSI = 5·(Tc − Tc0)/(39.5 − Tc0) + 5·(HR − HR0)/(180 − HR0), on 0-10.

    Moran DS, Shitzer A, Pandolf KB, Am J Physiol 275 (1998) R129-R134.
    ``core_0`` and ``hr_0`` are the resting values before the work.
    """
    psi = 5 * (core_t - core_0) / (39.5 - core_0) + 5 * (hr_t - hr_0) / (180 - hr_0)
    return round(min(10.0, max(0.0, psi)), 1)


# --- Recovery heart rate after a detected end of effort ------------------------

# Optical heart rate on a moving wrist produces runs of a few wrong samples
# (cadence lock-in, poor contact). A sample further than this from the
# median of the samples within PLAUSIBLE_SPAN of it is not a heartbeat: the
# heart does not jump 25 bpm for half a minute and back.
PLAUSIBLE_JUMP = 25.0  # bpm
PLAUSIBLE_SPAN = timedelta(minutes=2)
# Effort: at least this many minutes above the resting cadence before the
# worker stopped; the peak is the median heart rate of its last two minutes
# (sustained, not the highest sample).
EFFORT_MINUTES = 3
PEAK_SPAN = timedelta(minutes=2)
# The recovery reading: the median of the samples 30-90 s after the end of
# effort (ACGIH: "one minute after a peak work effort"), judged once three
# minutes of rest have passed, so that both ends of the filter's span exist.
RECOVERY_FROM = timedelta(seconds=30)
RECOVERY_TO = timedelta(seconds=90)
RECOVERY_JUDGED_AFTER = timedelta(minutes=3)
RECOVERY_LOOKBACK = timedelta(minutes=15)
# A recovery is underway when the heart rate has fallen at least this much
# from the peak; less than that is still work, whatever the pedometer says.
RECOVERY_MIN_DROP = 10.0


def plausible(samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    """The samples that agree with their neighbourhood (a Hampel-style
    filter on the median of the samples within PLAUSIBLE_SPAN), and how many
    were rejected. Needs at least three times as many good samples as bad
    ones around any run, so runs of two or three bad samples go."""
    times = [s.at for s in samples]
    kept: list[Sample] = []
    for s in samples:
        lo = bisect.bisect_left(times, s.at - PLAUSIBLE_SPAN)
        hi = bisect.bisect_right(times, s.at + PLAUSIBLE_SPAN)
        if abs(s.value - median([x.value for x in samples[lo:hi]])) <= PLAUSIBLE_JUMP:
            kept.append(s)
    return kept, len(samples) - len(kept)


@dataclass(frozen=True)
class Recovery:
    """The evidence of one recovery: when the effort ended (the first resting
    minute after EFFORT_MINUTES of work), the sustained peak, and the heart
    rate one minute into the rest."""

    effort_ended: datetime
    peak: float
    recovery: float
    peak_samples: int
    recovery_samples: int
    rejected_samples: int

    def as_evidence(self) -> dict:
        return {
            "effort_ended": self.effort_ended.isoformat(),
            "peak_heart_rate": round(self.peak, 1),
            "recovery_heart_rate": round(self.recovery, 1),
            "peak_samples": self.peak_samples,
            "recovery_samples": self.recovery_samples,
            "rejected_samples": self.rejected_samples,
        }


def end_of_effort(steps: Sequence[Sample], now: datetime) -> datetime | None:
    """When the current rest began, if the worker is resting now (every
    minute since at most REST_CADENCE steps, the latest with data not older
    than two minutes) after at least EFFORT_MINUTES minutes of stepping: the
    first step sample after the last one of the effort that counted steps.
    None otherwise (working, resting without effort before, no step data)."""
    moved = minute_steps(steps)
    if not moved:
        return None
    minute = max(moved)
    if now - minute > timedelta(minutes=2):
        return None
    rest_start = None
    while moved.get(minute) is not None and moved[minute] <= REST_CADENCE:
        rest_start = minute
        minute -= timedelta(minutes=1)
    if rest_start is None:
        return None
    for k in range(1, EFFORT_MINUTES + 1):
        count = moved.get(rest_start - timedelta(minutes=k))
        if count is None or count <= REST_CADENCE:
            return None
    # Within the last working minute: the sample after the last one that
    # counted steps is when the worker stopped.
    last_work_minute = rest_start - timedelta(minutes=1)
    stepping = [i for i, s in enumerate(steps) if last_work_minute <= s.at < rest_start and s.value > 0]
    if stepping and stepping[-1] + 1 < len(steps):
        return steps[stepping[-1] + 1].at
    return rest_start


def recovery_heart_rate(heart_rate: Sequence[Sample], steps: Sequence[Sample], now: datetime) -> Recovery | None:
    """Heart rate one minute after the end of the last effort, with the
    sustained peak before it; None when there is no recovery to judge (no
    detected end of effort in the last 15 minutes, too early to tell, too
    few plausible samples, or no fall from the peak: still working)."""
    ended = end_of_effort(steps, now)
    if ended is None or not (now - RECOVERY_LOOKBACK <= ended <= now - RECOVERY_JUDGED_AFTER):
        return None
    around = [
        s for s in heart_rate if ended - PEAK_SPAN - PLAUSIBLE_SPAN <= s.at <= ended + RECOVERY_TO + PLAUSIBLE_SPAN
    ]
    kept, rejected = plausible(around)
    peak = [s.value for s in kept if ended - PEAK_SPAN <= s.at < ended]
    after = [s.value for s in kept if ended + RECOVERY_FROM <= s.at <= ended + RECOVERY_TO]
    if len(peak) < 3 or not after:
        return None
    result = Recovery(ended, median(peak), median(after), len(peak), len(after), rejected)
    if result.recovery > result.peak - RECOVERY_MIN_DROP:
        return None
    return result


# --- The heat-strain rule ------------------------------------------------------

# Buller et al. (2013) report a root-mean-square error of about 0.3 °C for the
# estimate against measured core temperature: an estimate only counts as over
# a limit when it is over it by this margin.
ESTIMATE_MARGIN = 0.3


def core_temperature(window: Window) -> tuple[float | None, str]:
    """The device's core_temp when it sends one (recent), else the estimate from heart rate."""
    measured = window.get("core_temp", timedelta(minutes=5))
    if len(measured) >= 2:
        return median([s.value for s in measured[-3:]]), "device"
    estimate = core_temp_estimate(window.get("heart_rate", timedelta(hours=3)))
    return (round(estimate, 2) if estimate is not None else None), "estimated"


def acclimatization_label(acclimatized: bool | None) -> str:
    return "unknown" if acclimatized is None else ("yes" if acclimatized else "no")


def evaluate_heat_strain(
    window: Window, age: int, acclimatized: bool | None, rest_hr: float, t: Thresholds
) -> Evaluation:
    """ACGIH heat-strain limits: sustained HR above 180 − age, core
    temperature above 38.5 °C (38.0 °C unless acclimatization is recorded),
    or recovery heart rate above 120 bpm one minute after a detected end of
    effort. With the PSI.

    A core temperature the device measures is judged against the limit as it
    is. One estimated from heart rate (Buller 2013) is an estimate of the
    same heart rate the other criteria read, with about 0.3 °C of error: it
    never raises an alert on its own; beside a heart-rate criterion, an
    estimate over the limit by ESTIMATE_MARGIN makes the alert urgent, and
    the alert then says the temperature was estimated.
    """
    hr = window.get("heart_rate", timedelta(hours=3))
    if len(hr) < 3:
        return Evaluation.hold(HEAT_STRAIN)
    hr_limit = 180 - age
    # Unknown acclimatization takes the unacclimatized limit: a measured core
    # temperature over 38.0 °C is worth a look in a worker nobody has assessed.
    core_limit = t.heat_core_acclimatized if acclimatized else t.heat_core_unacclimatized
    core, core_source = core_temperature(window)
    estimated = core_source == "estimated"
    span = timedelta(minutes=t.heat_hr_minutes)
    hr_sustained = sustained(hr, window.now, span, lambda v: v > hr_limit)
    recovery = recovery_heart_rate(hr, window.get("steps", RECOVERY_LOOKBACK + PEAK_SPAN), window.now)
    recovery_high = recovery is not None and recovery.recovery > t.heat_recovery_hr
    # A high core temperature is heat strain when there is heat to strain
    # against (a heat index at the NWS "caution" level, or no ambient data
    # to tell) or the heart is working at its limit; in a cool plant it is a
    # fever, which the fever rule reports.
    heat_index = current_heat_index(window)
    heat_load = heat_index is None or heat_index >= t.heat_index_caution or hr_sustained
    over_limit = core is not None and core > core_limit + (ESTIMATE_MARGIN if estimated else 0.0)
    hot_measured = over_limit and not estimated and heat_load
    hot_estimated = over_limit and estimated and heat_load
    current_hr = median([s.value for s in hr[-5:]])
    psi = physiological_strain_index(core if core is not None else REST_CORE, current_hr, hr_0=rest_hr)
    evidence = {
        "heart_rate_limit": hr_limit,
        "core_temp": core,
        "core_temp_source": core_source,
        "core_temp_limit": core_limit,
        "core_temp_margin": ESTIMATE_MARGIN if estimated else 0.0,
        "acclimatized": acclimatization_label(acclimatized),
        "recovery_heart_rate": round(recovery.recovery, 1) if recovery else None,
        "recovery": recovery.as_evidence() if recovery else None,
        "psi": psi,
        "psi_core_source": core_source,
        "heat_index": heat_index,
        "readings": samples_evidence(hr, 20),
    }
    hr_reasons = [name for name, hit in (("heart_rate", hr_sustained), ("recovery_heart_rate", recovery_high)) if hit]
    reasons = [*hr_reasons, *(["core_temp"] if hot_measured else [])]
    if reasons:
        supported = bool(hr_reasons) and hot_estimated
        if supported:
            reasons.append("estimated_core_temp")
        severity = Severity.URGENT if hot_measured or supported or len(hr_reasons) > 1 else Severity.WARNING
        return Evaluation.active(
            HEAT_STRAIN,
            severity,
            messages.HEAT_STRAIN_ESTIMATED if supported else messages.HEAT_STRAIN,
            reasons=reasons,
            **evidence,
        )
    cool_hr = sustained(hr, window.now, span, lambda v: v < hr_limit - t.heat_clear_margin_hr)
    # An estimate only counts above the limit plus its margin, so it is cool
    # below that by the same clearing margin as a measurement.
    cool_core = core is None or core < core_limit + evidence["core_temp_margin"] - t.heat_clear_margin_core
    if cool_hr and cool_core:
        return Evaluation.clear(HEAT_STRAIN, **evidence)
    return Evaluation.hold(HEAT_STRAIN, **evidence)


# --- Acclimatization from the worker's own data ---------------------------------

# Heat acclimatization develops over 7-14 days of daily work in the heat of
# at least about 2 hours (NIOSH Criteria for a Recommended Standard:
# Occupational Exposure to Heat and Hot Environments, 2016, ch. 4). A worker
# whose acclimatization nobody recorded counts as acclimatized once their own
# wearable shows ACCLIMATIZED_AFTER_DAYS such days within the last
# ACCLIMATIZATION_WINDOW_DAYS. The data never records "no": little heat
# exposure leaves it unknown, and only a clinician records a "no".
HEAT_EXPOSURE_AIR = 28.0  # °C ambient at the wrist
HEAT_EXPOSURE_MINUTES = 120  # per day
ACCLIMATIZATION_WINDOW_DAYS = 14
ACCLIMATIZED_AFTER_DAYS = 10


def acclimatized_from_exposure(hot_minutes_per_day: Sequence[int]) -> bool | None:
    """True when enough of the days (minutes at or above HEAT_EXPOSURE_AIR,
    one entry per day of the window) were days of work in the heat; else
    None (still unknown)."""
    hot_days = sum(1 for minutes in hot_minutes_per_day if minutes >= HEAT_EXPOSURE_MINUTES)
    return True if hot_days >= ACCLIMATIZED_AFTER_DAYS else None


# --- Rest in a heat wave (Korean rules, KMA apparent temperature) --------------


def current_heat_index(window: Window) -> float | None:
    """The NWS heat index of the last 15 minutes' median ambient air."""
    climate = _ambient(window)
    return round(heat_index_c(*climate), 1) if climate else None


def current_apparent_temperature(window: Window) -> float | None:
    """The KMA apparent temperature (체감온도) of the last 15 minutes' median ambient air."""
    climate = _ambient(window)
    return round(kma_apparent_temperature_c(*climate), 1) if climate else None


def _ambient(window: Window) -> tuple[float, float] | None:
    temp = window.get("ambient_temp", timedelta(minutes=15))
    humidity = window.get("ambient_humidity", timedelta(minutes=15))
    if not temp or not humidity:
        return None
    return median([s.value for s in temp]), median([s.value for s in humidity])


def minutes_since_break(steps: Sequence[Sample], now: datetime, break_minutes: int) -> float | None:
    """Minutes of work since the end of the last rest of at least
    ``break_minutes`` (a run of minutes at the resting cadence, so that the
    pedometer's odd step does not break a break), or None without step data.
    Without a break in the series, the work counts from its first sample."""
    moved = minute_steps(steps)
    if not moved:
        return None
    rest_start: datetime | None = None
    last_break_end: datetime | None = None
    for minute, count in sorted(moved.items()):
        if count <= REST_CADENCE:
            rest_start = rest_start or minute
        else:
            if rest_start is not None and minute - rest_start >= timedelta(minutes=break_minutes):
                last_break_end = minute
            rest_start = None
    if rest_start is not None and now - rest_start >= timedelta(minutes=break_minutes):
        return 0.0  # resting now, for long enough
    since = last_break_end or steps[0].at
    return (now - since).total_seconds() / 60


def rest_requirement(apparent: float, t: Thresholds) -> tuple[int, int] | None:
    """(minutes of rest, within how many minutes of work) the Korean rules ask
    for at this apparent temperature, or None below the rest level.

    From 31 °C work is "heat-wave work" (폭염작업) with its preventive duties
    (water, shade, cooling), recorded in the evidence; from 33 °C the
    Occupational Safety and Health Standards Rules (2025 amendment) require
    at least 20 minutes of rest every 2 hours; from 35 °C (the KMA's heat-wave
    warning level) KOSHA's heat guidance asks for 15 minutes every hour.
    """
    if apparent >= t.apparent_temp_rest_more:
        return t.rest_more_break_minutes, t.rest_more_every_minutes
    if apparent >= t.apparent_temp_rest:
        return t.rest_break_minutes, t.rest_every_minutes
    return None


def evaluate_rest(window: Window, t: Thresholds) -> Evaluation:
    """In a heat wave (KMA apparent temperature of 33 °C or more), remind a
    worker who has worked longer than the rules allow without a long enough
    break. The US heat index is not the index of this rule: at 31 °C and 70 %
    it reads 37.6 where the KMA's apparent temperature is 32.3."""
    apparent = current_apparent_temperature(window)
    if apparent is None:
        return Evaluation.hold(REST_OVERDUE)
    requirement = rest_requirement(apparent, t)
    recent_steps = minute_steps(window.get("steps", timedelta(minutes=3))).values()
    resting_now = all(count <= REST_CADENCE for count in recent_steps)
    # Only the rest the rule asks for clears a reminder: a short break in a
    # cool room is not it, and the air read at the wrist lags for a quarter
    # of an hour after it, so clearing on cooler air would close and reopen
    # the reminder around every break. Working in cool air, there is nothing
    # to decide (and no need to read hours of steps).
    evidence = {
        "apparent_temperature": apparent,
        "heat_wave_work": apparent >= t.apparent_temp_heat_work,
        "heat_index": current_heat_index(window),
        "rest_required": {"minutes": requirement[0], "every_minutes": requirement[1]} if requirement else None,
    }
    if requirement is None and not resting_now:
        return Evaluation.hold(REST_OVERDUE, **evidence)
    break_minutes = requirement[0] if requirement else t.rest_break_minutes
    worked = minutes_since_break(window.get("steps", timedelta(hours=4)), window.now, break_minutes)
    if worked is None:
        return Evaluation.hold(REST_OVERDUE, **evidence)
    evidence["minutes_since_break"] = round(worked)
    if requirement is not None and worked >= requirement[1]:
        return Evaluation.active(REST_OVERDUE, Severity.INFO, messages.REST_OVERDUE, **evidence)
    if worked == 0:
        return Evaluation.clear(REST_OVERDUE, **evidence)
    return Evaluation.hold(REST_OVERDUE, **evidence)
