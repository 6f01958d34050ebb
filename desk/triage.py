"""The clinician's triage queue: a page, and the rows it refreshes live.

The page's script listens to /ws/alerts/ and, for each alert that changes,
asks ``triage_row`` for that one row as the server renders it (with the
page's filters), so rows are rendered, translated and filtered in one place.
Actions go through the JSON API (api:alert-action).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from alerts.models import Alert, AlertStatus
from desk.forms import TriageFilterForm
from desk.triage_queue import triage_alert, triage_queue
from workers.models import StaffRole
from workers.roles import sites_for_role


def consultation_url(alert_id: int) -> str | None:
    """Where "start consultation" posts, or None while the consultations app
    has no such view (the button is then not shown)."""
    try:
        return reverse("consultations:from-alert", args=[alert_id])
    except NoReverseMatch:
        return None


def _rows(alerts: list[Alert]) -> list[dict]:
    now = timezone.now()
    return [
        {
            "alert": alert,
            "consult_url": consultation_url(alert.pk),
            "waiting": alert.status == AlertStatus.OPEN and alert.severity == "critical",
            "age_s": int((now - alert.opened_at).total_seconds()),
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
