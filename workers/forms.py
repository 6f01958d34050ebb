"""Forms of the site administrators' enrolment pages (Django admin views in
workers/admin.py) and of a new worker's first sign-in: they parse and
validate what was posted; workers.services decides what it means."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from workers.models import ShiftPattern, Worker


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
