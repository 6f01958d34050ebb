"""Resting heart-rate baselines (robust statistics over 14 days at rest)."""

from __future__ import annotations

from collections.abc import Iterable

from alerts.rules.base import REST_CADENCE, REST_SETTLE_MINUTES, median, robust_spread

# Fewer resting minutes than this in 14 days make no baseline.
MIN_REST_MINUTES = 60


def resting_minutes(minutes: Iterable[tuple[int, str, float]]) -> list[float]:
    """Mean heart rate of each resting minute (alerts.rules.base.resting_minutes_of's
    definition, on per-minute rows from the database).
    ``minutes`` are (epoch minute start, metric, value) rows: the mean heart
    rate, the step count of the minute."""
    hr: dict[int, float] = {}
    steps: dict[int, float] = {}
    for start, metric, value in minutes:
        (hr if metric == "heart_rate" else steps)[start] = value
    resting = []
    for start, value in hr.items():
        counts = [steps.get(start - 60 * k) for k in range(REST_SETTLE_MINUTES)]
        if all(c is not None and c <= REST_CADENCE for c in counts):
            resting.append(value)
    return resting


def baseline_from(resting: list[float]) -> tuple[float, float] | None:
    """(median, robust spread) of resting heart rates, or None if too few."""
    if len(resting) < MIN_REST_MINUTES:
        return None
    return round(median(resting), 1), round(robust_spread(resting), 2)
