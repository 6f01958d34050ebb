"""Response times for clinicians and site administrators: per severity, the
time to acknowledge and to resolve (median, p90) and the alerts that reached
the last step of their chain, for a week, on a page and as CSV."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.metrics import response_figures, week_bounds
from healthhub.spreadsheets import csv_writer
from workers.models import Site, StaffRole
from workers.roles import administered_sites, sites_for_role


def _sites(request: HttpRequest) -> QuerySet[Site]:
    sites = (sites_for_role(request.user, StaffRole.CLINICIAN) | administered_sites(request.user)).distinct()
    if not sites.exists():
        raise Http404
    return sites.order_by("name")


class PeriodForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), label=_("Site"), required=False, empty_label=None)
    week = forms.DateField(label=_("Week of"), widget=forms.DateInput({"type": "date"}), required=False)

    def __init__(self, data, *, sites: QuerySet[Site]) -> None:
        super().__init__(data)
        self.fields["site"].queryset = sites

    def period(self) -> tuple[Site, date]:
        """The site and the Monday of the chosen week (this week by default)."""
        site = self.cleaned_data.get("site") or self.fields["site"].queryset.first()
        day = self.cleaned_data.get("week") or timezone.localdate()
        return site, day - timedelta(days=day.weekday())


def _figures(request: HttpRequest):
    sites = _sites(request)
    form = PeriodForm(request.GET, sites=sites)
    if not form.is_valid():
        return form, None, None, None
    site, monday = form.period()
    start, end = week_bounds(monday, site.timezone)
    return form, site, monday, response_figures([site.pk], start, end)


@login_required
def response_metrics(request: HttpRequest) -> HttpResponse:
    form, site, monday, figures = _figures(request)
    if figures is None:
        return render(request, "desk/response_metrics.html", {"form": form}, status=400)
    context = {"form": form, "site": site, "monday": monday, "sunday": monday + timedelta(days=6), "figures": figures}
    return render(request, "desk/response_metrics.html", context)


@login_required
def response_metrics_csv(request: HttpRequest) -> HttpResponse:
    form, site, monday, figures = _figures(request)
    if figures is None:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="response-{site.code}-{monday.isoformat()}.csv"'
    response.write("\ufeff")  # so that spreadsheet programs read UTF-8
    writer = csv_writer(response)
    writer.writerow(
        [
            "week", "site", "severity", "alerts", "acknowledged", "ack_median_s", "ack_p90_s", "resolved",
            "resolve_median_s", "resolve_p90_s", "reached_last_step",
        ]
    )  # fmt: skip
    for f in figures:
        row = [
            monday.isoformat(), site.name, f.severity, f.alerts, f.acknowledged, f.ack_median_s, f.ack_p90_s,
            f.resolved, f.resolve_median_s, f.resolve_p90_s, f.reached_last_step,
        ]  # fmt: skip
        writer.writerow(row)
    return response
