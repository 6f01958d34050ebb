"""Consultation pages: the worker's (phone) and the clinician's (desktop).

Every page and action finds the consultation through
consultations.selectors.consultation_for (404 for anyone but the worker and
the clinicians of the worker's site, the read logged); actions call one
service and come back to the consultation page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe
from django_permissions_policy.decorators import permissions_policy_override

from alerts.guidance import GUIDES
from alerts.selectors import alerts_visible_to
from consultations import forms, questions, services
from consultations.models import ConsultationKind, ConsultationStatus, Outcome, Photo, Urgency
from consultations.selectors import (
    Side,
    clearances_of,
    consultation_for,
    consultation_list_for,
    messages_of,
    notes_visible_to,
    recommendations_of,
    side_of,
)
from workers.models import StaffRole
from workers.roles import has_staff_role, worker_of


def labels() -> dict[str, Any]:
    """What the page script shows, in the user's language."""
    return {
        "status": {k: str(v) for k, v in ConsultationStatus.choices},
        "urgency": {k: str(v) for k, v in Urgency.choices},
        "outcome": {k: str(v) for k, v in Outcome.choices},
        "side": {"worker": gettext("Worker"), "clinician": gettext("Clinician")},
        "sent": gettext("Sent"),
        "delivered": gettext("Delivered"),
        "read": gettext("Read"),
        "guide": gettext("Guidance to read"),
        # Guide titles in the viewer's language (the socket frame carries the
        # sender's).
        "guides": {guide.slug: str(guide.title) for guide in GUIDES},
        "typing_worker": gettext("The worker is typing…"),
        "typing_clinician": gettext("The clinician is typing…"),
        "connected": gettext("Live"),
        "disconnected": gettext("Reconnecting…"),
        "incoming_call": gettext("Incoming video call"),
        "calling": gettext("Calling…"),
        "in_call": gettext("In a video call"),
        "call_ended": gettext("The call has ended."),
        "no_camera": gettext("The camera or microphone could not be opened."),
        "new_request": gettext("New request"),
    }


@login_required
def consultation_list(request: HttpRequest) -> HttpResponse:
    consultations = consultation_list_for(request.user)
    if consultations is None:
        raise Http404
    is_worker = worker_of(request.user) is not None
    return render(
        request,
        "consultations/list.html",
        {
            "consultations": consultations,
            "is_worker": is_worker,
            "open": [c for c in consultations if c.status != ConsultationStatus.CLOSED],
            "closed": [c for c in consultations if c.status == ConsultationStatus.CLOSED],
            "labels": labels(),
        },
    )


@login_required
def consultation_new(request: HttpRequest) -> HttpResponse:
    """Ask to talk with a clinician now, or ask a question answered in
    writing (with an optional photo)."""
    worker = worker_of(request.user)
    if worker is None:
        raise Http404
    asking = request.POST.get("kind") == ConsultationKind.QUESTION
    form = forms.RequestForm(request.POST if request.method == "POST" and not asking else None)
    question = forms.QuestionForm(
        request.POST if request.method == "POST" and asking else None,
        request.FILES if request.method == "POST" and asking else None,
    )
    if request.method == "POST":
        try:
            if asking and question.is_valid():
                consultation = questions.question_ask(
                    worker=worker, text=question.cleaned_data["text"], photo=question.cleaned_data["photo"]
                )
                messages.success(
                    request,
                    gettext("Your question has been sent. A clinician will answer here within %(hours)d hours.")
                    % {"hours": settings.QUESTION_ANSWER_HOURS},
                )
                return redirect("consultations:detail", consultation.pk)
            if not asking and form.is_valid():
                consultation = services.consultation_request(
                    worker=worker, reason=form.cleaned_data["reason"], urgency=form.cleaned_data["urgency"]
                )
                messages.success(request, gettext("Your request has been sent. A clinician will answer here."))
                return redirect("consultations:detail", consultation.pk)
        except services.ConsultationError as exc:
            (question if asking else form).add_error(None, str(exc))
    return render(
        request,
        "consultations/new.html",
        {"form": form, "question": question, "asking": asking, "answer_hours": settings.QUESTION_ANSWER_HOURS},
    )


@require_safe
@login_required
def photo(request: HttpRequest, photo_id: int) -> HttpResponse:
    """A question's photo, for its worker and the site's clinicians only."""
    try:
        found = questions.photo_for(user=request.user, photo_id=photo_id)
    except Photo.DoesNotExist as exc:
        raise Http404 from exc
    response = FileResponse(found.image.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "no-store, private"
    return response


# The one page that may use the camera and microphone (the video call); every
# other page has them off (PERMISSIONS_POLICY).
@permissions_policy_override({**settings.PERMISSIONS_POLICY, "camera": ["self"], "microphone": ["self"]})
@login_required
def consultation_detail(request: HttpRequest, consultation_id: int) -> HttpResponse:
    consultation = consultation_for(request.user, consultation_id)
    side = side_of(request.user, consultation)
    if side is None:  # visible but neither side: cannot happen with the one rule; refuse anyway
        raise Http404
    is_clinician = side is Side.CLINICIAN
    context: dict[str, Any] = {
        "consultation": consultation,
        "side": str(side),
        "is_clinician": is_clinician,
        "chat_messages": list(messages_of(consultation)),
        "recommendations": list(recommendations_of(consultation)),
        "clearances": list(clearances_of(consultation)),
        "message_form": forms.MessageForm(),
        "labels": labels(),
        "ice_servers": settings.WEBRTC_ICE_SERVERS,
    }
    if is_clinician:
        # Notes reach the template for clinicians only; the worker's page
        # has nothing to leak them from.
        context.update(
            {
                "notes": list(notes_visible_to(request.user, consultation)),
                "note_form": forms.NoteForm(),
                "recommendation_form": forms.RecommendationForm(),
                "close_form": forms.CloseForm(),
                "clearance_form": forms.ClearanceForm(),
            }
        )
    return render(request, "consultations/detail.html", context)


def _act(request: HttpRequest, consultation_id: int, form_class, action, what: str) -> HttpResponse:
    """A form post on the consultation page: find the consultation (404 for
    outsiders), validate, call the service, come back to the page."""
    consultation = consultation_for(request.user, consultation_id, what=what)
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            action(consultation, form.cleaned_data if form else {})
        except services.ConsultationError as exc:
            messages.error(request, str(exc))
    return redirect("consultations:detail", consultation.pk)


@login_required
@require_POST
def consultation_take(request: HttpRequest, consultation_id: int) -> HttpResponse:
    return _act(
        request,
        consultation_id,
        None,
        lambda c, data: services.consultation_take(consultation_id=c.pk, clinician=request.user),
        "consultation",
    )


@login_required
@require_POST
def message_send(request: HttpRequest, consultation_id: int) -> HttpResponse:
    """Without JavaScript the chat still works: a form post and a reload."""
    return _act(
        request,
        consultation_id,
        forms.MessageForm,
        lambda c, data: services.message_send(
            consultation_id=c.pk, sender=request.user, body=data["body"], language=translation.get_language()
        ),
        "consultation",
    )


@login_required
@require_POST
def note_add(request: HttpRequest, consultation_id: int) -> HttpResponse:
    return _act(
        request,
        consultation_id,
        forms.NoteForm,
        lambda c, data: services.note_add(consultation_id=c.pk, author=request.user, body=data["body"]),
        "consultation notes",
    )


@login_required
@require_POST
def recommendation_add(request: HttpRequest, consultation_id: int) -> HttpResponse:
    return _act(
        request,
        consultation_id,
        forms.RecommendationForm,
        lambda c, data: services.recommendation_add(
            consultation_id=c.pk, author=request.user, body=data["body"], guide=data["guide"]
        ),
        "consultation",
    )


@login_required
@require_POST
def consultation_close(request: HttpRequest, consultation_id: int) -> HttpResponse:
    return _act(
        request,
        consultation_id,
        forms.CloseForm,
        lambda c, data: services.consultation_close(
            consultation_id=c.pk, clinician=request.user, outcome=data["outcome"]
        ),
        "consultation",
    )


@login_required
@require_POST
def clearance_record(request: HttpRequest, consultation_id: int) -> HttpResponse:
    return _act(
        request,
        consultation_id,
        forms.ClearanceForm,
        lambda c, data: services.clearance_record(
            consultation_id=c.pk, clinician=request.user, return_on=data["return_on"], note=data["note"]
        ),
        "consultation",
    )


@login_required
@require_POST
def consultation_from_alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    """A clinician's "start consultation" on an alert: the consultation for
    that alert, new or existing, opens."""
    if not has_staff_role(request.user, StaffRole.CLINICIAN):
        raise Http404
    alert = alerts_visible_to(request.user).filter(pk=alert_id).first()
    if alert is None:
        raise Http404
    try:
        consultation, _ = services.consultation_start_from_alert(alert_id=alert.pk, clinician=request.user)
    except services.ConsultationError:
        raise Http404 from None
    return redirect("consultations:detail", consultation.pk)
