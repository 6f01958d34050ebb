"""Forms of the clinician's desk."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from alerts.models import AlertKind, AlertStatus, Severity
from desk.triage_queue import UNRESOLVED, TriageFilters
from workers.models import Department, Site


class TriageFilterForm(forms.Form):
    """The queue's filters, from the query string. A value that is not one
    of the choices (another clinician's site, say) is ignored, not an error:
    the queue then shows everything the clinician may see."""

    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label=_("All sites"))
    department = forms.ModelChoiceField(
        queryset=Department.objects.none(), required=False, empty_label=_("All departments")
    )
    kind = forms.ChoiceField(choices=[("", _("All kinds")), *AlertKind.choices], required=False)
    status = forms.ChoiceField(
        choices=[
            (UNRESOLVED, _("Not resolved")),
            (AlertStatus.OPEN, _("Not acknowledged")),
            (AlertStatus.ACKNOWLEDGED, _("Acknowledged")),
            (AlertStatus.RESOLVED, _("Resolved")),
        ],
        required=False,
    )

    def __init__(self, data, *, sites: QuerySet[Site]) -> None:
        super().__init__(data)
        self.fields["site"].queryset = sites
        departments = Department.objects.filter(site__in=sites).select_related("site").order_by("site__name", "name")
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = lambda d: f"{d.site.name} · {d.name}"

    def filters(self) -> TriageFilters:
        self.is_valid()
        data = self.cleaned_data
        site, department = data.get("site"), data.get("department")
        return TriageFilters(
            site_id=site.pk if site else None,
            department_id=department.pk if department else None,
            kind=data.get("kind") or None,
            status=data.get("status") or UNRESOLVED,
        )

    def query(self) -> str:
        """The valid filters as a query string, for links and live refreshes."""
        from urllib.parse import urlencode

        f = self.filters()
        pairs = {"site": f.site_id, "department": f.department_id, "kind": f.kind}
        if f.status != UNRESOLVED:
            pairs["status"] = f.status
        return urlencode({k: v for k, v in pairs.items() if v})


class SnoozeForm(forms.Form):
    """Don't raise this kind for this worker, at this severity or below,
    for a while; a worse severity breaks through (alerts.services.snooze_create)."""

    MINUTES = [
        (30, _("30 minutes")), (60, _("1 hour")), (240, _("4 hours")), (480, _("8 hours")), (1440, _("24 hours")),
    ]  # fmt: skip

    kind = forms.ChoiceField(label=_("Kind"), choices=AlertKind.choices)
    severity = forms.ChoiceField(
        label=_("At this severity or below"), choices=[(s, label) for s, label in Severity.choices]
    )
    minutes = forms.TypedChoiceField(label=_("For"), choices=MINUTES, coerce=int)
    reason = forms.CharField(label=_("Reason"), max_length=300)
