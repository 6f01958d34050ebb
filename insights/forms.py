"""The HR pages' query string, parsed by form fields (never by hand: see
healthhub/params.py for why)."""

from __future__ import annotations

from django import forms

from healthhub.params import MAX_ID
from insights.selectors import GROUPINGS

MAX_WEEKS = 52
DEFAULT_WEEKS = 8


class InsightsQueryForm(forms.Form):
    site = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    by = forms.ChoiceField(choices=[(key, key) for key in GROUPINGS], required=False)
    weeks = forms.IntegerField(required=False, min_value=1, max_value=MAX_WEEKS)
