"""Writes of the insights app: recording outbreak signals."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from insights.models import ClusterSignal
from insights.outbreak import BASELINE_DAYS, GUARD_DAYS, ears_c2
from insights.selectors import daily_counts
from workers.models import Site

# Enough history for the baseline, and to re-judge a few recent days.
LOOKBACK_DAYS = BASELINE_DAYS + GUARD_DAYS + 7


@transaction.atomic
def signals_detect(*, site: Site, today: date | None = None) -> list[ClusterSignal]:
    """Run the detector over the site's and each department's daily fever
    and symptomatic counts up to ``today`` and record the days that signal.
    Idempotent: a day already recorded is updated, not duplicated, and a day
    that no longer signals (late check-ins changed its baseline) is removed."""
    today = today or datetime.now(ZoneInfo(site.timezone)).date()
    start = today - timedelta(days=LOOKBACK_DAYS - 1)
    days = [start + timedelta(days=i) for i in range(LOOKBACK_DAYS)]
    counts = daily_counts(site, start, today + timedelta(days=1))
    groups = {(None, kind) for kind in ("fever", "symptomatic")} | set(counts)
    recorded = []
    judged = days[BASELINE_DAYS + GUARD_DAYS :]
    for department_id, kind in groups:
        per_day = counts.get((department_id, kind), {})
        results = ears_c2(days, [len(per_day.get(day, ())) for day in days])
        for result in results:
            if result.day not in judged:
                continue
            existing = ClusterSignal.objects.filter(site=site, department_id=department_id, kind=kind, day=result.day)
            if result.signal:
                signal, _ = ClusterSignal.objects.update_or_create(
                    site=site,
                    department_id=department_id,
                    kind=kind,
                    day=result.day,
                    defaults={"count": result.count, "expected": result.expected, "c2": result.c2},
                )
                recorded.append(signal)
            else:
                existing.delete()
    return recorded
