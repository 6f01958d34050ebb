"""The clinician's triage queue: a page, and the rows it refreshes live.

The page's script listens to /ws/alerts/ and, for each alert that changes,
asks ``triage_row`` for that one row as the server renders it (with the
page's filters), so rows are rendered, translated and filtered in one place.
Actions go through the JSON API (api:alert-action).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alerts import services
from alerts.escalation import on_call_now
from alerts.models import Alert, AlertStatus
from alerts.selectors import snoozes_active
from desk.forms import SnoozeForm, TriageFilterForm
from desk.triage_queue import triage_alert, triage_queue
from workers.models import StaffRole
from workers.roles import sites_for_role
from workers.selectors import workers_health_visible_to


def consultation_url(alert_id: int) -> str | None:
    """Where "start consultation" posts, or None while the consultations app
    has no such view (the button is then not shown)."""
    try:
        return reverse("consultations:from-alert", args=[alert_id])
    except NoReverseMatch:
        return None


def _rows(alerts: list[Alert]) -> list[dict]:
    now = timezone.now()
    snoozed = {}
    for snooze in snoozes_active([a.worker_id for a in alerts], now):
        snoozed.setdefault((snooze.worker_id, snooze.kind), snooze)
    return [
        {
            "alert": alert,
            "consult_url": consultation_url(alert.pk),
            "waiting": alert.status == AlertStatus.OPEN and alert.severity == "critical",
            "age_s": int((now - alert.opened_at).total_seconds()),
            "snooze": snoozed.get((alert.worker_id, alert.kind)),
            "snooze_form": SnoozeForm(initial={"kind": alert.kind, "severity": alert.severity, "minutes": 60}),
        }
        for alert in alerts
    ]


def _clinician_sites(request: HttpRequest):
    sites = sites_for_role(request.user, StaffRole.CLINICIAN)
    if not sites.exists():
        raise Http404  # the desk does not exist for anyone else
    return sites


@login_required
def triage(request: HttpRequest) -> HttpResponse:
    sites = _clinician_sites(request)
    form = TriageFilterForm(request.GET, sites=sites)
    filters = form.filters()
    rows = _rows(triage_queue(request.user, filters))
    context = {"rows": rows, "form": form, "query": form.query(), "status": filters.status, "sites": sites}
    context["on_call"] = [(site, period) for site in sites if (period := on_call_now(site.pk, timezone.now()))]
    if request.GET.get("fragment") == "rows":
        # The script reloads the rows after a reconnection (events missed).
        return render(request, "desk/_triage_rows.html", context)
    context["waiting"] = sum(row["waiting"] for row in rows)
    return render(request, "desk/triage.html", context)


@login_required
def triage_row(request: HttpRequest, alert_id: int) -> HttpResponse:
    """One row of the queue: 200 with the row, 204 when the alert no longer
    belongs in the queue as filtered (resolved, say), 404 when the user may
    not see it."""
    sites = _clinician_sites(request)
    form = TriageFilterForm(request.GET, sites=sites)
    visible, alert = triage_alert(request.user, alert_id, form.filters())
    if not visible:
        raise Http404
    if alert is None:
        return HttpResponse(status=204)
    return render(request, "desk/_triage_row.html", {"row": _rows([alert])[0]})


@login_required
@require_POST
def snooze(request: HttpRequest, worker_id: int) -> HttpResponse:
    """Snooze a kind of alert for a worker of the clinician's sites (from
    the queue or the worker page; ``next`` says where to return)."""
    sites = _clinician_sites(request)
    worker = workers_health_visible_to(request.user).filter(pk=worker_id, site__in=sites).first()
    if worker is None:
        raise Http404
    form = SnoozeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        services.snooze_create(
            worker=worker, kind=data["kind"], severity=data["severity"], minutes=data["minutes"],
            reason=data["reason"], by=request.user,
        )  # fmt: skip
        messages.success(request, _("Snoozed. A worse severity still breaks through."))
    else:
        messages.error(request, _("A snooze needs a kind, a severity, a duration and a reason."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    return redirect(target or "desk:triage")
