"""Pages. The full portals come later; these show who you are and the data
arriving for the workers you may see."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from alerts.messages import alert_labels
from alerts.selectors import snoozes_active
from appointments.models import Mode
from desk import selectors
from desk.forms import SnoozeForm
from desk.triage_queue import alerts_between
from devices.protocol import METRICS
from devices.selectors import devices_newly_linked, latest_values
from workers.models import CheckIn, StaffRole
from workers.roles import has_staff_role, staff_profile, worker_of
from workers.selectors import worker_health_for, worker_on_shift


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role starts on its own page: clinicians on the triage queue,
    workers on their portal, HR on the anonymised insights; site
    administrators (and anyone without a role) get links from here."""
    if has_staff_role(request.user, StaffRole.CLINICIAN):
        return redirect("desk:triage")
    if has_staff_role(request.user, StaffRole.HR):
        return redirect("insights:overview")
    if has_staff_role(request.user, StaffRole.SAFETY_OFFICER):
        return redirect("desk:respond")
    if worker_of(request.user) is not None and staff_profile(request.user) is None:
        return redirect("portal:today")
    return render(request, "desk/home.html", {"profile": staff_profile(request.user)})


@login_required
def worker_detail(request: HttpRequest, worker_id: int) -> HttpResponse:
    """A worker's page: live vitals, charts over an hour to a month, alerts
    and check-ins on the same time line, consultations. The worker themself
    and their site's clinicians; 404 for everyone else; one access-log entry
    per opening by someone else."""
    worker = worker_health_for(request.user, worker_id, what="worker page")
    now = timezone.now()
    start = now - max(span for _, span, _ in selectors.CHART_RANGES)
    tz = ZoneInfo(worker.site.timezone)
    alerts = alerts_between(worker, start, now)
    checkins = selectors.checkins_between(worker, start.astimezone(tz).date(), now.astimezone(tz).date())
    consultations = selectors.consultations_of(worker)
    metrics = [
        {
            "name": name,
            "label": str(selectors.METRIC_LABELS.get(name, name)),
            "unit": str(selectors.UNIT_LABELS.get(m.unit, m.unit)),
            "event": m.event,
        }
        for name, m in METRICS.items()
    ]
    chart_data = {
        "worker": worker.pk,
        "tz": worker.site.timezone,
        "ranges": [
            {"key": key, "span": int(span.total_seconds()), "resolution": res}
            for key, span, res in selectors.CHART_RANGES
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
        "labels": {**alert_labels(), "stat": {k: str(v) for k, v in selectors.STAT_LABELS.items()}},
    }
    latest = latest_values(worker)
    newly_linked = devices_newly_linked(worker, now)
    return render(
        request,
        "desk/worker_detail.html",
        {
            "worker": worker,
            "latest": [
                (
                    r,
                    selectors.METRIC_LABELS.get(r.metric, r.metric),
                    selectors.UNIT_LABELS.get(METRICS[r.metric].unit, METRICS[r.metric].unit),
                    r.device_id in newly_linked,  # a reading of a newly linked wearable
                )
                for r in latest
                if not METRICS[r.metric].event
            ],
            "devices": [(device, newly_linked.get(device.pk)) for device in worker.devices.all()],
            "newly_linked": bool(newly_linked),
            "new_link_hours": settings.DEVICE_NEW_LINK_HOURS,
            "on_shift": worker_on_shift(worker, now),
            "open_alerts": [a for a in alerts if a.status != "resolved"],
            "timeline": _timeline(alerts, checkins),
            "consultations": _with_links(consultations),
            "chart_data": chart_data,
            "ranges": [(key, selectors.RANGE_LABELS[key]) for key, _, _ in selectors.CHART_RANGES],
            "is_clinician": has_staff_role(request.user, StaffRole.CLINICIAN),
            "snoozes": snoozes_active([worker.pk], now),
            "snooze_form": SnoozeForm(initial={"minutes": 60, "severity": "warning"}),
            "appointment_modes": Mode.choices,
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


def _with_links(consultations: list) -> list[tuple]:
    return [(consultation, reverse("consultations:detail", args=[consultation.pk])) for consultation in consultations]


@login_required
def site_overview(request: HttpRequest, site_id: int) -> HttpResponse:
    """Who is on shift at a site, whose device is silent, open alerts per
    department: for the site's clinicians; 404 for everyone else."""
    site = selectors.clinician_site(request.user, site_id)
    overview = selectors.site_overview(request.user, site, timezone.now())
    return render(request, "desk/desk_site.html", {"overview": overview, "site": site})
