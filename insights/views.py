"""HR and programme pages: anonymised aggregates and outbreak signals, read
from the snapshots of closed periods (insights.services.snapshots_take)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render

from healthhub.spreadsheets import csv_writer
from insights.forms import DEFAULT_WEEKS, InsightsQueryForm
from insights.models import ClusterSignal
from insights.selectors import (
    GROUPINGS,
    hr_signals,
    hr_tables,
    insight_sites,
    is_site_clinician,
    workers_behind_signal,
)
from workers.models import StaffRole
from workers.roles import has_staff_role


def _bad_query(form: InsightsQueryForm) -> HttpResponse:
    """400 naming the fields that did not parse."""
    return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")


def _site_and_options(request: HttpRequest, query: dict):
    sites = insight_sites(request.user)
    if not sites.exists():
        raise Http404
    site = sites.filter(pk=query["site"]).first() if query["site"] else sites.first()
    if site is None:
        raise Http404
    return sites, site, query["by"] or "department", query["weeks"] or DEFAULT_WEEKS


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    form = InsightsQueryForm(request.GET)
    if not form.is_valid():
        return _bad_query(form)
    sites, site, grouping, weeks = _site_and_options(request, form.cleaned_data)
    data = hr_tables(site, grouping, weeks)
    # A clinician of the site may see today's live signals and the workers
    # behind them; everyone else sees the published signals of closed days.
    clinician = is_site_clinician(request.user, site)
    live_signals = ClusterSignal.objects.filter(site=site).select_related("department")[:20] if clinician else []
    return render(
        request,
        "insights/overview.html",
        {
            "sites": sites,
            "site": site,
            "grouping": grouping,
            "groupings": GROUPINGS,
            "weeks": weeks,
            "data": data,
            "is_clinician": clinician,
            "live_signals": live_signals,
            "signals": [] if clinician else hr_signals(site),
        },
    )


@login_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """The same suppressed table as on the page, as CSV."""
    form = InsightsQueryForm(request.GET)
    if not form.is_valid():
        return _bad_query(form)
    _sites, site, grouping, weeks = _site_and_options(request, form.cleaned_data)
    data = hr_tables(site, grouping, weeks)
    metric = next((t for t in data["tables"] if t.key == table), None)
    if metric is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{site.code}-{metric.key}.csv"'
    response.write("\ufeff")  # so that spreadsheet programs read the Korean labels as UTF-8
    writer = csv_writer(response)  # department names are typed by administrators
    writer.writerow([str(GROUPINGS[grouping][1]), *[w.isoformat() for w in metric.columns]])
    for row in metric.rows:
        writer.writerow([metric.row_labels.get(row, row), *[metric.shown(row, w) for w in metric.columns]])
    return response


@login_required
def signal_detail(request: HttpRequest, signal_id: int) -> HttpResponse:
    """The workers behind a cluster signal: clinicians of the site only.
    HR sees counts on the overview and has no route here (404)."""
    if not has_staff_role(request.user, StaffRole.CLINICIAN):
        raise Http404
    signal = get_object_or_404(ClusterSignal, pk=signal_id, site__in=insight_sites(request.user))
    workers = workers_behind_signal(request.user, signal)
    return render(request, "insights/signal_detail.html", {"signal": signal, "workers": workers})
