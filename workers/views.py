"""Pages. The full portals come later; these show who you are and the data
arriving for the workers you may see."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from alerts.desk import alerts_between
from alerts.messages import alert_labels
from devices.protocol import METRICS
from devices.selectors import latest_values
from healthhub.roles import has_staff_role, staff_profile, worker_of
from workers import desk
from workers.models import CheckIn, StaffRole
from workers.selectors import worker_health_for, worker_on_shift


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role starts on its own page: clinicians on the triage queue,
    workers on their portal, HR on the anonymised insights; site
    administrators (and anyone without a role) get links from here."""
    if has_staff_role(request.user, StaffRole.CLINICIAN):
        return redirect("alerts:triage")
    if has_staff_role(request.user, StaffRole.HR):
        return redirect("insights:overview")
    if worker_of(request.user) is not None and staff_profile(request.user) is None:
        return redirect("portal:today")
    return render(request, "workers/home.html", {"profile": staff_profile(request.user)})


@login_required
def worker_detail(request: HttpRequest, worker_id: int) -> HttpResponse:
    """A worker's page: live vitals, charts over an hour to a month, alerts
    and check-ins on the same time line, consultations. The worker themself
    and their site's clinicians; 404 for everyone else; one access-log entry
    per opening by someone else."""
    worker = worker_health_for(request.user, worker_id, what="worker page")
    now = timezone.now()
    start = now - max(span for _, span, _ in desk.CHART_RANGES)
    tz = ZoneInfo(worker.site.timezone)
    alerts = alerts_between(worker, start, now)
    checkins = desk.checkins_between(worker, start.astimezone(tz).date(), now.astimezone(tz).date())
    consultations = desk.consultations_of(worker)
    metrics = [
        {
            "name": name,
            "label": str(desk.METRIC_LABELS.get(name, name)),
            "unit": str(desk.UNIT_LABELS.get(m.unit, m.unit)),
            "event": m.event,
        }
        for name, m in METRICS.items()
    ]
    chart_data = {
        "worker": worker.pk,
        "tz": worker.site.timezone,
        "ranges": [
            {"key": key, "span": int(span.total_seconds()), "resolution": res} for key, span, res in desk.CHART_RANGES
        ],
        "metrics": metrics,
        "alerts": [
            {
                "id": a.pk,
                "kind": a.kind,
                "severity": a.severity,
                "status": a.status,
                "from": int(a.opened_at.timestamp()),
                "to": int(a.resolved_at.timestamp()) if a.resolved_at else None,
            }
            for a in alerts
        ],
        "checkins": [
            {"at": int(c.submitted_at.timestamp()), "temperature": c.temperature, "symptoms": len(c.symptoms)}
            for c in checkins
        ],
        "labels": {**alert_labels(), "stat": {k: str(v) for k, v in desk.STAT_LABELS.items()}},
    }
    latest = latest_values(worker)
    return render(
        request,
        "workers/worker_detail.html",
        {
            "worker": worker,
            "latest": [
                (r, desk.METRIC_LABELS.get(r.metric, r.metric), METRICS[r.metric].unit)
                for r in latest
                if not METRICS[r.metric].event
            ],
            "devices": worker.devices.all(),
            "on_shift": worker_on_shift(worker, now),
            "open_alerts": [a for a in alerts if a.status != "resolved"],
            "timeline": _timeline(alerts, checkins),
            "consultations": _with_links(consultations),
            "chart_data": chart_data,
            "ranges": [(key, desk.RANGE_LABELS[key]) for key, _, _ in desk.CHART_RANGES],
            "is_clinician": has_staff_role(request.user, StaffRole.CLINICIAN),
        },
    )


def _timeline(alerts, checkins) -> list[dict]:
    """Alerts and check-ins in one list, newest first."""
    entries = [{"at": a.opened_at, "alert": a} for a in alerts]
    entries += [
        {
            "at": c.submitted_at,
            "checkin": c,
            "symptoms": [CheckIn._meta.get_field(name).verbose_name for name in c.symptoms],
        }
        for c in checkins
    ]
    return sorted(entries, key=lambda e: e["at"], reverse=True)


def _with_links(consultations: list | None) -> list[tuple] | None:
    if consultations is None:
        return None
    linked = []
    for consultation in consultations:
        try:
            url = reverse("consultations:detail", args=[consultation.pk])
        except NoReverseMatch:
            url = None
        linked.append((consultation, url))
    return linked


@login_required
def site_overview(request: HttpRequest, site_id: int) -> HttpResponse:
    """Who is on shift at a site, whose device is silent, open alerts per
    department: for the site's clinicians; 404 for everyone else."""
    site = desk.clinician_site(request.user, site_id)
    overview = desk.site_overview(request.user, site, timezone.now())
    return render(request, "workers/desk_site.html", {"overview": overview, "site": site})
