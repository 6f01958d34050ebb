"""Pages. The full portals come later; these show who you are and the data
arriving for the workers you may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alerts.messages import alert_labels
from alerts.models import AlertStatus
from alerts.selectors import alerts_visible_to
from devices.selectors import latest_values
from healthhub.roles import has_staff_role, staff_profile, worker_of
from workers.models import StaffRole
from workers.selectors import worker_health_for, workers_health_visible_to
from workers.services import access_log_record


@login_required
def home(request: HttpRequest) -> HttpResponse:
    workers = workers_health_visible_to(request.user).select_related("user", "site", "department")
    profile = staff_profile(request.user)
    alerts = list(
        alerts_visible_to(request.user)
        .exclude(status=AlertStatus.RESOLVED)
        .select_related("worker__user", "worker__department")
        .order_by("-severity_rank", "opened_at")[:200]
    )
    for worker in {alert.worker for alert in alerts}:
        access_log_record(accessor=request.user, worker=worker, what="alerts")
    return render(
        request,
        "workers/home.html",
        {
            "profile": profile,
            "me": worker_of(request.user),
            "workers": workers.prefetch_related("devices")[:500],
            "alerts": alerts,
            "alert_labels": alert_labels(),
            "can_act": has_staff_role(request.user, StaffRole.CLINICIAN),
            "watches_alerts": bool(alerts) or workers.exists(),
        },
    )


@login_required
def worker_detail(request: HttpRequest, worker_id: int) -> HttpResponse:
    worker = worker_health_for(request.user, worker_id, what="worker page")
    return render(
        request,
        "workers/worker_detail.html",
        {"worker": worker, "latest": latest_values(worker), "devices": worker.devices.all()},
    )
