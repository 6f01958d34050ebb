"""Summary statistics used by the response figures, the simulator's report
and the benchmark: one definition, so that their percentiles agree."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` from 0 to 100) of ``values``: the
    smallest value with at least q % of the values at or below it; None for
    no values."""
    if not 0 <= q <= 100:
        raise ValueError("q is a percentage, from 0 to 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
