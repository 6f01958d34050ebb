"""Forms of the worker portal: they parse and validate what was posted; the
services decide what it means."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from workers.models import CheckIn, ShiftPattern, Worker

# Temperatures a thermometer can plausibly show (the check-in's database
# constraint allows 30-45 °C; a person reads 34-43).
TEMPERATURE_MIN, TEMPERATURE_MAX = 34.0, 43.0


def _symptom_choices() -> list[tuple[str, str]]:
    return [(name, CheckIn._meta.get_field(name).verbose_name) for name in CheckIn.SYMPTOMS]


class CheckInForm(forms.Form):
    """Today's check-in: an optional thermometer reading and any symptoms."""

    temperature = forms.FloatField(
        label=_("Temperature (°C)"),
        required=False,
        min_value=TEMPERATURE_MIN,
        max_value=TEMPERATURE_MAX,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal", "placeholder": "36.5"}),
    )
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"), required=False, choices=_symptom_choices, widget=forms.CheckboxSelectMultiple
    )

    def clean_temperature(self) -> float | None:
        value = self.cleaned_data["temperature"]
        return None if value is None else round(value, 1)


class ConsentForm(forms.Form):
    """Agree to, or withdraw from, monitoring. ``version`` is the text the
    worker was shown, so that nobody agrees to a text they have not seen."""

    decision = forms.ChoiceField(choices=[("grant", "grant"), ("withdraw", "withdraw")])
    version = forms.IntegerField(required=False, min_value=1)


EXPORT_MAX_DAYS = 366


class ExportForm(forms.Form):
    """The period of readings to export, in the site's local days (both
    included); the default is the last 30 days."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError(_("The start must not be after the end."))
        if (end - start).days + 1 > EXPORT_MAX_DAYS:
            raise forms.ValidationError(_("Choose at most 366 days."))
        data["start"], data["end"] = start, end
        return data


# -- site administrators: enrolling workers --------------------------------------


class EnrolForm(forms.Form):
    """One new worker: their sign-in and worker record are made together.
    ``departments`` are those of the administrator's own sites."""

    employee_number = forms.CharField(label=_("Employee number"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=150)
    department = forms.ModelChoiceField(label=_("Department"), queryset=None)
    shift_pattern = forms.ChoiceField(label=_("Shift pattern"), choices=ShiftPattern.choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE)
    birth_year = forms.IntegerField(label=_("Birth year"), min_value=1900, max_value=2100)

    def __init__(self, *args, departments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments.select_related("site")

    def clean_employee_number(self) -> str:
        from django.contrib.auth import get_user_model

        number = self.cleaned_data["employee_number"].strip()
        taken = Worker.objects.filter(employee_number=number).exists()
        if taken or get_user_model().objects.filter(username=number).exists():
            raise forms.ValidationError(_("This employee number is already enrolled."))
        return number


class ImportForm(forms.Form):
    """A CSV of new workers for one of the administrator's sites."""

    site = forms.ModelChoiceField(label=_("Site"), queryset=None)
    file = forms.FileField(label=_("CSV file"))
    only_valid = forms.BooleanField(label=_("If some rows have errors, import the valid rows anyway"), required=False)

    MAX_BYTES = 1_000_000

    def __init__(self, *args, sites, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        return upload


class SignInCodeForm(forms.Form):
    """The one-time code of a first sign-in sheet, typed or from its QR code."""

    code = forms.CharField(
        label=_("Sign-in code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "characters"}),
    )
