"""Site administrators set rule thresholds per site. Alerts themselves are
health data and are not in the admin: clinicians work them in the desk."""

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from alerts.models import EscalationStep, OnCall, SiteThresholds, Target
from alerts.rules.thresholds import DEFAULTS
from workers.admin import SiteScopedAdmin


class SiteThresholdsForm(forms.ModelForm):
    class Meta:
        model = SiteThresholds
        fields = ["site", "overrides"]
        help_texts = {
            "overrides": _('A JSON object of threshold names and numbers, e.g. {"spo2_warning": 92}.'),
        }


@admin.register(SiteThresholds)
class SiteThresholdsAdmin(SiteScopedAdmin):
    form = SiteThresholdsForm
    list_display = ["site", "overrides"]
    readonly_fields = ["defaults"]

    @admin.display(description=_("defaults"))
    def defaults(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(DEFAULTS.as_dict(), indent=2))


class OnCallAdmin(SiteScopedAdmin):
    """The on-call rota: a primary and a backup clinician per day or night
    period of a site (alerts.escalation reads it)."""

    list_display = ["site", "shift", "starts_at", "ends_at", "primary", "backup"]
    list_filter = ["site", "shift"]
    date_hierarchy = "starts_at"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("primary", "backup"):
            from django.contrib.auth import get_user_model

            from workers.admin import admin_sites
            from workers.models import StaffRole

            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(staff_profile__role=StaffRole.CLINICIAN, staff_profile__sites__in=admin_sites(request))
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class EscalationStepForm(forms.ModelForm):
    targets = forms.MultipleChoiceField(choices=Target.choices, widget=forms.CheckboxSelectMultiple, label=_("notify"))

    class Meta:
        model = EscalationStep
        fields = ["site", "severity", "after_s", "targets"]
        help_texts = {
            "after_s": _("Seconds after the alert opened (or worsened) without acknowledgement; 0 is at once."),
        }


class EscalationStepAdmin(SiteScopedAdmin):
    """A site's chains: steps per severity. A severity without steps here
    uses the built-in chain (docs/notify.md)."""

    form = EscalationStepForm
    list_display = ["site", "severity", "after_s", "targets"]
    list_filter = ["site", "severity"]


admin.site.register(OnCall, OnCallAdmin)
admin.site.register(EscalationStep, EscalationStepAdmin)
