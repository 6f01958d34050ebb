"""Forms of the worker portal: they parse and validate what was posted; the
services decide what it means."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from workers.models import CheckIn

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
EXPORT_FIRST_DAY = date(1970, 1, 1)


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
        # Bounded so that the period, turned into times in the site's zone,
        # stays inside what datetime can hold (9999-12-31 and 0001-01-01 used
        # to overflow, one of them after the export had started streaming).
        # Nothing is older than the epoch; a day after tomorrow has no data.
        for name in ("start", "end"):
            self.fields[name].validators = [
                MinValueValidator(EXPORT_FIRST_DAY),
                MaxValueValidator(today + timedelta(days=1)),
            ]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError(_("The start must not be after the end."))
        if (end - start).days + 1 > EXPORT_MAX_DAYS:
            raise forms.ValidationError(_("Choose at most 366 days."))
        data["start"], data["end"] = start, end
        return data
