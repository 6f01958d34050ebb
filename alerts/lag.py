"""Evaluation lag: the time from a batch's storage to the evaluation that
covered it, as a histogram per process (urgent and routine apart).

The buckets are Prometheus-style upper bounds in seconds, so that an
exporter can publish the counts as they are; ``bench.alerts`` measures the
same lag from the outbox table across processes.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, float("inf"))


@dataclass
class Histogram:
    bounds: tuple[float, ...] = BUCKETS
    counts: dict[bool, list[int]] = field(default_factory=dict)
    sums: dict[bool, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, seconds: float, *, urgent: bool) -> None:
        index = bisect.bisect_left(self.bounds, max(seconds, 0.0))
        with self.lock:
            counts = self.counts.setdefault(urgent, [0] * len(self.bounds))
            counts[index] += 1
            self.sums[urgent] = self.sums.get(urgent, 0.0) + seconds

    def snapshot(self, *, urgent: bool) -> dict[str, object]:
        """Cumulative counts per upper bound (as Prometheus has them), the
        number of observations and their sum."""
        with self.lock:
            counts = list(self.counts.get(urgent, [0] * len(self.bounds)))
            total = self.sums.get(urgent, 0.0)
        cumulative, running = [], 0
        for count in counts:
            running += count
            cumulative.append(running)
        return {"buckets": dict(zip(self.bounds, cumulative, strict=True)), "count": running, "sum": total}


EVALUATION_LAG = Histogram()
