"""Building rule windows for tests: series of values at regular intervals ending now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.rules.base import Sample, Window

NOW = datetime(2026, 7, 30, 5, 0, tzinfo=UTC)  # 14:00 in Seoul, a July afternoon


def series(values, every_s: int = 30, end: datetime = NOW) -> list[Sample]:
    """``values`` oldest first, the last one at ``end``."""
    values = list(values)
    return [Sample(end - timedelta(seconds=every_s * (len(values) - 1 - i)), float(v)) for i, v in enumerate(values)]


def steady(value: float, minutes: float, every_s: int = 30, end: datetime = NOW) -> list[Sample]:
    return series([value] * (int(minutes * 60 / every_s) + 1), every_s, end)


def window(now: datetime = NOW, **metrics) -> Window:
    return Window(now=now, series={name: sorted(s, key=lambda x: x.at) for name, s in metrics.items()})
