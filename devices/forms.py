"""Forms of the device admin's pages: they parse what was posted; the
services decide what it means."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class DeviceAssignForm(forms.Form):
    """A wearable for a worker, by the serial printed on it: a new serial is
    provisioned, one of the administrator's sites is moved to this worker."""

    serial = forms.CharField(label=_("Serial number"), max_length=64)
    model = forms.CharField(label=_("Model"), max_length=100, required=False)
