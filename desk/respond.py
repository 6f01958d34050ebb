"""The safety officer's page: SOS and falls at their sites, with who, which
site and zone and what kind, and the two marks "on my way" and "with the
worker". No vitals, no evidence, no alert history beyond that."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import services
from alerts.selectors import alerts_for_responder
from workers.models import StaffRole
from workers.roles import has_staff_role
from workers.services import access_log_record


def _responder(request: HttpRequest) -> None:
    if not has_staff_role(request.user, StaffRole.SAFETY_OFFICER):
        raise Http404  # the page does not exist for anyone else


@login_required
def respond(request: HttpRequest) -> HttpResponse:
    _responder(request)
    alerts = list(
        alerts_for_responder(request.user)
        .select_related("worker__user", "worker__site", "worker__department", "responder")
        .order_by("status", "-opened_at")[:100]
    )
    for worker in {alert.worker for alert in alerts}:
        # Who pressed SOS or fell, and where, is about a person: the worker sees this read.
        access_log_record(accessor=request.user, worker=worker, what="SOS / fall response")
    return render(request, "desk/respond.html", {"alerts": alerts})


@login_required
@require_POST
def respond_mark(request: HttpRequest, alert_id: int, step: str) -> HttpResponse:
    _responder(request)
    if not alerts_for_responder(request.user).filter(pk=alert_id).exists():
        raise Http404
    try:
        services.alert_respond(alert_id=alert_id, by=request.user, step=step)
    except services.AlertActionError:
        messages.error(request, _("This alert has changed meanwhile."))
    return redirect("desk:respond")
