"""The clinician's appointments: the booked slots of the coming days beside
the live triage queue, joining the room at the slot, proposing a follow-up
for a worker, and the private calendar feed."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from appointments.calendar import clinician_calendar
from appointments.models import AppointmentStatus, CalendarFeed, Mode
from appointments.selectors import appointments_visible_to
from appointments.services import AppointmentError, appointment_join, appointment_propose, room_is_open
from workers.models import StaffRole
from workers.roles import sites_for_role
from workers.selectors import worker_health_for


class ProposeForm(forms.Form):
    worker = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    starts_at = forms.DateTimeField()
    mode = forms.ChoiceField(choices=Mode.choices)


def _clinician_only(request: HttpRequest) -> None:
    if not sites_for_role(request.user, StaffRole.CLINICIAN).exists():
        raise Http404


@require_safe
@login_required
def appointments(request: HttpRequest) -> HttpResponse:
    _clinician_only(request)
    now = timezone.now()
    booked = (
        appointments_visible_to(request.user)
        .filter(status=AppointmentStatus.BOOKED, ends_at__gte=now, starts_at__lt=now + timedelta(days=7))
        .order_by("starts_at")
    )
    feed, _ = CalendarFeed.objects.get_or_create(clinician=request.user)
    return render(
        request,
        "desk/appointments.html",
        {
            "rows": [(a, room_is_open(a, now), a.clinician_id == request.user.pk) for a in booked],
            "feed_url": request.build_absolute_uri(f"/desk/calendar/{feed.token}.ics"),
        },
    )


@require_POST
@login_required
def join(request: HttpRequest, appointment_id: int) -> HttpResponse:
    _clinician_only(request)
    get_object_or_404(appointments_visible_to(request.user), pk=appointment_id)
    try:
        consultation = appointment_join(appointment_id=appointment_id, user=request.user)
    except AppointmentError as exc:
        messages.error(request, str(exc))
        return redirect("desk:appointments")
    return redirect("consultations:detail", consultation.pk)


@require_POST
@login_required
def propose(request: HttpRequest) -> HttpResponse:
    """A follow-up booked for a worker (e.g. from the worker page: "in 3 days")."""
    _clinician_only(request)
    form = ProposeForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Please give a time and how to meet."))
        return redirect("desk:appointments")
    worker = worker_health_for(request.user, form.cleaned_data["worker"], what="appointment")
    try:
        appointment_propose(
            clinician=request.user,
            worker=worker,
            starts_at=form.cleaned_data["starts_at"],
            mode=form.cleaned_data["mode"],
        )
    except AppointmentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("The appointment is booked; the worker sees it in their portal."))
    return redirect("desk:worker-detail", worker.pk)


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed needs no sign-in (calendar apps cannot sign in): the token is
    the key, and the feed holds times only."""
    feed = CalendarFeed.objects.filter(token=token).select_related("clinician").first()
    if feed is None or not feed.clinician.is_active:
        raise Http404
    body = clinician_calendar(
        clinician=feed.clinician, now=timezone.now(), base_url=request.build_absolute_uri("/").rstrip("/")
    )
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")
