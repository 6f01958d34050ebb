"""Pages. The full portals come later; these show who you are and the data
arriving for the workers you may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from devices.selectors import latest_values
from healthhub.roles import staff_profile, worker_of
from workers.selectors import worker_health_for, workers_health_visible_to


@login_required
def home(request: HttpRequest) -> HttpResponse:
    workers = workers_health_visible_to(request.user).select_related("user", "site", "department")
    return render(
        request,
        "workers/home.html",
        {
            "profile": staff_profile(request.user),
            "me": worker_of(request.user),
            "workers": workers.prefetch_related("devices")[:500],
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
