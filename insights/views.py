"""HR and programme pages: anonymised aggregates and outbreak signals."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from insights.models import ClusterSignal
from insights.selectors import GROUPINGS, insight_sites, weekly_tables, workers_behind_signal
from workers.models import StaffRole
from workers.roles import has_staff_role

MAX_WEEKS = 52


def _site_and_options(request: HttpRequest):
    sites = insight_sites(request.user)
    if not sites.exists():
        raise Http404
    site_id = request.GET.get("site")
    site = sites.filter(pk=site_id).first() if site_id and site_id.isdigit() else sites.first()
    if site is None:
        raise Http404
    grouping = request.GET.get("by", "department")
    if grouping not in GROUPINGS:
        grouping = "department"
    try:
        weeks = min(MAX_WEEKS, max(1, int(request.GET.get("weeks", 8))))
    except ValueError:
        weeks = 8
    return sites, site, grouping, weeks


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    sites, site, grouping, weeks = _site_and_options(request)
    data = weekly_tables(site, grouping, weeks)
    signals = ClusterSignal.objects.filter(site=site).select_related("department")[:20]
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
            "signals": signals,
            "is_clinician": has_staff_role(request.user, StaffRole.CLINICIAN),
        },
    )


@login_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """The same suppressed table as on the page, as CSV."""
    _sites, site, grouping, weeks = _site_and_options(request)
    data = weekly_tables(site, grouping, weeks)
    metric = next((t for t in data["tables"] if t.key == table), None)
    if metric is None:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{site.code}-{metric.key}.csv"'
    response.write("\ufeff")  # so that spreadsheet programs read the Korean labels as UTF-8
    writer = csv.writer(response)
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
