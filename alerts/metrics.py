"""Response figures (reads only): how fast alerts were acknowledged and
resolved per severity, and how many climbed to the last step of their
escalation chain. The figures an occupational-health service is audited on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.models import Alert, Severity
from healthhub.stats import percentile


@dataclass(frozen=True)
class SeverityFigures:
    severity: str
    label: str
    alerts: int
    acknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolved: int
    resolve_median_s: float | None
    resolve_p90_s: float | None
    reached_last_step: int


def response_figures(site_ids: list[int], start: datetime, end: datetime) -> list[SeverityFigures]:
    """Per severity (worst first), for alerts opened in [start, end) at
    ``site_ids``: time from opening to acknowledgement and to resolution by
    a person (median and p90, seconds), and how many reached the last step
    of their chain. Automatic resolutions are not response times."""
    rows = Alert.objects.filter(worker__site_id__in=site_ids, opened_at__gte=start, opened_at__lt=end).values_list(
        "severity", "opened_at", "acknowledged_at", "resolved_at", "auto_resolved", "chain_final_at"
    )
    by_severity: dict[str, list[tuple]] = {s: [] for s in Severity.values}
    for row in rows:
        by_severity[row[0]].append(row)
    figures = []
    for severity, label in reversed(Severity.choices):
        found = by_severity[severity]
        ack = [(a - o).total_seconds() for _, o, a, _, _, _ in found if a is not None]
        res = [(r - o).total_seconds() for _, o, _, r, auto, _ in found if r is not None and not auto]
        figures.append(
            SeverityFigures(
                severity=severity,
                label=str(label),
                alerts=len(found),
                acknowledged=len(ack),
                ack_median_s=percentile(ack, 50),
                ack_p90_s=percentile(ack, 90),
                resolved=len(res),
                resolve_median_s=percentile(res, 50),
                resolve_p90_s=percentile(res, 90),
                reached_last_step=sum(1 for *_, final in found if final is not None),
            )
        )
    return figures


def week_bounds(monday: date, tz: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in the site's time zone."""
    start = datetime.combine(monday, time(0), tzinfo=ZoneInfo(tz))
    return start, start + timedelta(days=7)
