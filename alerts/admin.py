"""Site administrators set rule thresholds per site. Alerts themselves are
health data and are not in the admin: clinicians work them in the desk."""

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from alerts.models import SiteThresholds
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
