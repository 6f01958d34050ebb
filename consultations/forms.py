"""Forms of the consultation pages. They parse and validate input; the
rules (who may do what, in which state) are in consultations.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from alerts.guidance import guide_choices
from consultations.models import Outcome, Urgency
from consultations.services import MAX_MESSAGE, MAX_TEXT


class RequestForm(forms.Form):
    reason = forms.CharField(
        label=_("What is it about?"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example: dizzy since lunch, a cough for three days, a question about my heart rate."),
    )
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"), choices=Urgency.choices, initial=Urgency.ROUTINE, widget=forms.RadioSelect
    )


class QuestionForm(forms.Form):
    text = forms.CharField(
        label=_("Your question"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "A clinician of your site answers in writing. You can add a photo, for example of a rash or a burn."
        ),
    )
    photo = forms.FileField(label=_("Photo (optional)"), required=False)


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=MAX_MESSAGE, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), max_length=MAX_MESSAGE, widget=forms.Textarea(attrs={"rows": 3}))


class RecommendationForm(forms.Form):
    body = forms.CharField(label=_("Recommendation"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}))
    guide = forms.ChoiceField(
        label=_("Guidance page to read"), required=False, choices=lambda: [("", _("None")), *guide_choices()]
    )


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices, widget=forms.RadioSelect)


class ClearanceForm(forms.Form):
    return_on = forms.DateField(label=_("May return to work on"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        label=_("Note for the worker"), required=False, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 2})
    )
