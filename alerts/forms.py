"""Forms of the notification settings page."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from alerts.models import Channel, NotificationPreference, Severity

SEVERITY_CHOICES = [(s, label) for s, label in Severity.choices if s != Severity.INFO]


class PreferenceForm(forms.Form):
    """Which severities reach the user by which channel, the phone number
    for text messages and the quiet hours (never applied to critical)."""

    push = forms.MultipleChoiceField(
        label=Channel.PUSH.label, choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    email = forms.MultipleChoiceField(
        label=Channel.EMAIL.label, choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    sms = forms.MultipleChoiceField(
        label=Channel.SMS.label, choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    phone = forms.RegexField(
        label=_("Mobile number"), regex=r"^\+?[0-9]{8,15}$", required=False, max_length=16,
        help_text=_("Digits only, e.g. 01012345678."),
    )  # fmt: skip
    quiet_start = forms.TimeField(label=_("Quiet hours from"), required=False, widget=forms.TimeInput({"type": "time"}))
    quiet_end = forms.TimeField(label=_("Quiet hours until"), required=False, widget=forms.TimeInput({"type": "time"}))
    language = forms.ChoiceField(label=_("Language of notifications"), choices=settings.LANGUAGES)
    time_zone = forms.CharField(label=_("Time zone of the quiet hours"), max_length=64)

    @classmethod
    def for_preference(cls, pref: NotificationPreference, data=None) -> PreferenceForm:
        initial = {c: pref.channels.get(c, []) for c in Channel.values}
        initial.update(
            phone=pref.phone, quiet_start=pref.quiet_start, quiet_end=pref.quiet_end, language=pref.language,
            time_zone=pref.time_zone,
        )  # fmt: skip
        return cls(data, initial=initial)

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        if value not in available_timezones():
            raise forms.ValidationError(_("Not a time zone."))
        return value

    def clean(self) -> dict:
        data = super().clean()
        if bool(data.get("quiet_start")) != bool(data.get("quiet_end")):
            raise forms.ValidationError(_("Give both ends of the quiet hours, or neither."))
        if self.is_bound and not any(Severity.CRITICAL in data.get(c, []) for c in Channel.values):
            raise forms.ValidationError(_("Critical alerts must reach you by at least one channel."))
        if (data.get("sms") or []) and not data.get("phone"):
            self.add_error("phone", _("Text messages need a mobile number."))
        return data


class DeviceNameForm(forms.Form):
    name = forms.CharField(label=_("Device name"), max_length=80)
