"""A clinician's appointments as an iCalendar feed (RFC 5545), for their
own calendar app. It names no worker and no reason: only when, how long,
how (video, chat, in person) and a link that needs signing in."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from icalendar import Calendar, Event

from appointments.models import Appointment, AppointmentStatus, Mode


def clinician_calendar(*, clinician: AbstractBaseUser, now: datetime, base_url: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//healthhub//appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "healthhub")
    booked = Appointment.objects.filter(
        clinician=clinician,
        status=AppointmentStatus.BOOKED,
        starts_at__gte=now - timedelta(days=7),
        starts_at__lt=now + timedelta(days=90),
    ).order_by("starts_at")
    with translation.override(settings.LANGUAGE_CODE):
        for appointment in booked:
            event = Event()
            event.add("uid", f"appointment-{appointment.pk}@healthhub")
            event.add("dtstamp", now)
            event.add("dtstart", appointment.starts_at)
            event.add("dtend", appointment.ends_at)
            event.add("summary", gettext("healthhub appointment (%(how)s)") % {"how": Mode(appointment.mode).label})
            event.add("url", base_url + reverse("desk:appointments"))
            calendar.add_component(event)
    return calendar.to_ical()
