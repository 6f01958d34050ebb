"""Heat: the heat index, core temperature estimated from heart rate, the
Physiological Strain Index, the ACGIH heat-strain limits, and the Korean
heat-index rest rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.rules import messages
from alerts.rules.base import Evaluation, Sample, Severity, Window, median, samples_evidence, sustained
from alerts.rules.thresholds import Thresholds

HEAT_STRAIN = "heat_strain"
REST_OVERDUE = "rest_overdue"


# --- Heat index (US National Weather Service) -----------------------------


def heat_index_c(temp_c: float, humidity: float) -> float:
    """Heat index in °C: the NWS algorithm (Steadman's simple formula, the
    Rothfusz regression above 80 °F, and its two humidity adjustments)."""
    t = temp_c * 9 / 5 + 32
    rh = humidity
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    if (simple + t) / 2 < 80:
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
    buckets: dict[datetime, list[float]] = {}
    for s in samples:
        buckets.setdefault(s.at.replace(second=0, microsecond=0), []).append(s.value)
    return [(minute, sum(v) / len(v)) for minute, v in sorted(buckets.items())]


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


def physiological_strain_index(core_t: float, hr_t: float, core_0: float = 37.0, hr_0: float = 70.0) -> float:
    """PSI = 5·(Tc − Tc0)/(39.5 − Tc0) + 5·(HR − HR0)/(180 − HR0), on 0-10.

    Moran DS, Shitzer A, Pandolf KB, Am J Physiol 275 (1998) R129-R134.
    ``core_0`` and ``hr_0`` are the resting values before the work.
    """
    psi = 5 * (core_t - core_0) / (39.5 - core_0) + 5 * (hr_t - hr_0) / (180 - hr_0)
    return round(min(10.0, max(0.0, psi)), 1)


# A recovery is underway when the heart rate has fallen at least this much
# from the peak one minute later; less than that is still work, not recovery.
RECOVERY_MIN_DROP = 10.0

# --- The heat-strain rule ------------------------------------------------------


def core_temperature(window: Window) -> tuple[float | None, str]:
    """The device's core_temp when it sends one (recent), else the estimate from heart rate."""
    measured = window.get("core_temp", timedelta(minutes=5))
    if len(measured) >= 2:
        return median([s.value for s in measured[-3:]]), "device"
    estimate = core_temp_estimate(window.get("heart_rate", timedelta(hours=3)))
    return (round(estimate, 2) if estimate is not None else None), "estimated"


def recovery_heart_rate(samples: Sequence[Sample], now: datetime) -> tuple[float, datetime] | None:
    """Heart rate one minute after the last peak of effort in the last 15
    minutes, or None when there is no recovery to measure: the peak is too
    recent, or the heart rate has not come down from it (still working).

    Peak and recovery are read from a rolling median of three samples, so
    that a single-sample spike (motion artefact) is neither a peak of effort
    nor a slow recovery.
    """
    raw = [s for s in samples if s.at >= now - timedelta(minutes=15)]
    if len(raw) < 5:
        return None
    recent = [Sample(raw[i].at, median([s.value for s in raw[i - 1 : i + 2]])) for i in range(1, len(raw) - 1)]
    top = max(s.value for s in recent)
    peak = [s for s in recent if s.value == top][-1]
    target = peak.at + timedelta(minutes=1)
    after = [s for s in recent if s.at >= target]
    if not after or after[0].at - target > timedelta(seconds=30):
        return None
    if after[0].value > peak.value - RECOVERY_MIN_DROP:
        return None
    return after[0].value, peak.at


def evaluate_heat_strain(window: Window, age: int, acclimatized: bool, rest_hr: float, t: Thresholds) -> Evaluation:
    """ACGIH heat-strain limits: sustained HR above 180 − age, core
    temperature above 38.5 °C (38.0 °C unacclimatized), or recovery heart
    rate above 120 bpm one minute after peak effort. With the PSI."""
    hr = window.get("heart_rate", timedelta(hours=3))
    if len(hr) < 3:
        return Evaluation.hold(HEAT_STRAIN)
    hr_limit = 180 - age
    core_limit = t.heat_core_acclimatized if acclimatized else t.heat_core_unacclimatized
    core, core_source = core_temperature(window)
    span = timedelta(minutes=t.heat_hr_minutes)
    hr_sustained = sustained(hr, window.now, span, lambda v: v > hr_limit)
    recovery = recovery_heart_rate(hr, window.now)
    recovery_high = recovery is not None and recovery[0] > t.heat_recovery_hr and recovery[1] > window.now - span
    # A high core temperature is heat strain when there is heat to strain
    # against (a heat index at the NWS "caution" level, or no ambient data
    # to tell) or the heart is working at its limit; in a cool plant it is a
    # fever, which the fever rule reports.
    heat_index = current_heat_index(window)
    heat_load = heat_index is None or heat_index >= t.heat_index_caution or hr_sustained
    hot = core is not None and core > core_limit and heat_load
    current_hr = median([s.value for s in hr[-5:]])
    psi = physiological_strain_index(core if core is not None else 37.0, current_hr, hr_0=rest_hr)
    evidence = {
        "heart_rate_limit": hr_limit,
        "core_temp": core,
        "core_temp_source": core_source,
        "core_temp_limit": core_limit,
        "recovery_heart_rate": recovery[0] if recovery else None,
        "psi": psi,
        "heat_index": heat_index,
        "readings": samples_evidence(hr, 20),
    }
    reasons = [
        name
        for name, hit in (("heart_rate", hr_sustained), ("core_temp", hot), ("recovery_heart_rate", recovery_high))
        if hit
    ]
    if reasons:
        severity = Severity.URGENT if hot or len(reasons) > 1 else Severity.WARNING
        return Evaluation.active(
            HEAT_STRAIN,
            severity,
            messages.HEAT_STRAIN,
            reasons=reasons,
            **evidence,
        )
    cool_hr = sustained(hr, window.now, span, lambda v: v < hr_limit - t.heat_clear_margin_hr)
    cool_core = core is None or core < core_limit - t.heat_clear_margin_core
    if cool_hr and cool_core:
        return Evaluation.clear(HEAT_STRAIN, **evidence)
    return Evaluation.hold(HEAT_STRAIN)


# --- Heat-index rest rule -------------------------------------------------------


def current_heat_index(window: Window) -> float | None:
    temp = window.get("ambient_temp", timedelta(minutes=15))
    humidity = window.get("ambient_humidity", timedelta(minutes=15))
    if not temp or not humidity:
        return None
    return round(heat_index_c(median([s.value for s in temp]), median([s.value for s in humidity])), 1)


def minutes_since_break(steps: Sequence[Sample], now: datetime, break_minutes: int) -> float | None:
    """Minutes of work since the end of the last rest of at least
    ``break_minutes`` (a run of zero-step samples), or None when the series
    does not reach back to a break or to the start of data."""
    if not steps:
        return None
    rest_start: datetime | None = None
    last_break_end: datetime | None = None
    for s in steps:
        if s.value == 0:
            rest_start = rest_start or s.at
        else:
            if rest_start is not None and s.at - rest_start >= timedelta(minutes=break_minutes):
                last_break_end = s.at
            rest_start = None
    if rest_start is not None and now - rest_start >= timedelta(minutes=break_minutes):
        return 0.0  # resting now, for long enough
    since = last_break_end or steps[0].at
    return (now - since).total_seconds() / 60


def evaluate_rest(window: Window, t: Thresholds) -> Evaluation:
    """At a heat index of 33 °C or more, at least 20 minutes of rest every 2
    hours: remind a worker who has worked 2 hours without such a break."""
    hi = current_heat_index(window)
    if hi is None:
        return Evaluation.hold(REST_OVERDUE)
    worked = minutes_since_break(window.get("steps", timedelta(hours=4)), window.now, t.rest_break_minutes)
    if worked is None:
        return Evaluation.hold(REST_OVERDUE)
    evidence = {"heat_index": hi, "minutes_since_break": round(worked)}
    if hi >= t.heat_index_rest and worked >= t.rest_every_minutes:
        return Evaluation.active(
            REST_OVERDUE,
            Severity.INFO,
            messages.REST_OVERDUE,
            **evidence,
        )
    if worked == 0 or hi < t.heat_index_rest - 2:
        return Evaluation.clear(REST_OVERDUE, **evidence)
    return Evaluation.hold(REST_OVERDUE)
