"""The worker's appointments: book a time in three taps (Book, a time,
Confirm), see, move or cancel bookings, and join the room at the slot."""

from __future__ import annotations

from itertools import groupby
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST, require_safe

from appointments.models import Appointment, AppointmentStatus, Mode
from appointments.selectors import appointments_visible_to, offers_for
from appointments.services import AppointmentError, appointment_book, appointment_cancel, appointment_join, room_is_open
from portal.views import _portal, worker_required
from workers.models import Worker


class BookForm(forms.Form):
    starts_at = forms.DateTimeField()
    mode = forms.ChoiceField(choices=Mode.choices)
    replaces = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class ListForm(forms.Form):
    all = forms.BooleanField(required=False)
    replaces = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


def _own(worker: Worker, appointment_id: int | None) -> Appointment | None:
    if appointment_id is None:
        return None
    appointment = appointments_visible_to(worker.user).filter(pk=appointment_id).first()
    if appointment is None:
        raise Http404
    return appointment


@require_safe
@worker_required
def appointments(request: HttpRequest, worker: Worker) -> HttpResponse:
    now = timezone.now()
    mine = appointments_visible_to(request.user).order_by("-starts_at")[:30]
    upcoming = [a for a in mine if a.status == AppointmentStatus.BOOKED and a.ends_at >= now][::-1]
    past = [a for a in mine if a not in upcoming]
    return _portal(
        request,
        "appointments.html",
        {"upcoming": [(a, room_is_open(a, now)) for a in upcoming], "past": past},
        section="appointments",
    )


@worker_required
def book(request: HttpRequest, worker: Worker) -> HttpResponse:
    """GET: the free times of the coming days, by day, with the worker's
    shift pattern beside them. POST: book the chosen one."""
    conf = settings.APPOINTMENTS
    if request.method == "POST":
        form = BookForm(request.POST)
        if form.is_valid():
            try:
                replaces = _own(worker, form.cleaned_data["replaces"])
                appointment_book(
                    worker=worker,
                    starts_at=form.cleaned_data["starts_at"],
                    mode=form.cleaned_data["mode"],
                    by=request.user,
                    replaces=replaces,
                )
            except AppointmentError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, gettext("Your appointment is booked."))
                return redirect("portal:appointments")
        else:
            messages.error(request, gettext("Please choose a time."))
    query = ListForm(request.GET)
    query.is_valid()
    show_all = bool(query.cleaned_data.get("all"))
    replaces = query.cleaned_data.get("replaces")
    _own(worker, replaces)
    now = timezone.now()
    offers = offers_for(
        worker=worker, now=now, days=conf["BOOKING_DAYS"], lead_minutes=conf["MIN_LEAD_MINUTES"], show_all=show_all
    )
    tz = ZoneInfo(worker.site.timezone)
    days = [(day, list(group)) for day, group in groupby(offers, key=lambda o: o.starts_at.astimezone(tz).date())]
    return _portal(
        request,
        "book.html",
        {
            "days": days,
            "show_all": show_all,
            "replaces": replaces,
            "shift_pattern": worker.get_shift_pattern_display(),
            "day_worker": worker.shift_pattern == "day",
        },
        section="appointments",
    )


@require_POST
@worker_required
def cancel(request: HttpRequest, worker: Worker, appointment_id: int) -> HttpResponse:
    appointment = _own(worker, appointment_id)
    try:
        appointment_cancel(appointment=appointment, by=request.user)
    except AppointmentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("Your appointment is cancelled."))
    return redirect("portal:appointments")


@require_POST
@worker_required
def join(request: HttpRequest, worker: Worker, appointment_id: int) -> HttpResponse:
    _own(worker, appointment_id)
    try:
        consultation = appointment_join(appointment_id=appointment_id, user=request.user)
    except AppointmentError as exc:
        messages.error(request, str(exc))
        return redirect("portal:appointments")
    return redirect("consultations:detail", consultation.pk)
