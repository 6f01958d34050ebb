"""Writes of appointments: book, reschedule, cancel (the worker, up to a
cut-off), propose (a clinician), join (the room opens at the slot), the
reminders and the no-show sweep (beat).

Double booking is refused by the database (partial unique constraints on
the clinician's and the worker's start times), so two people tapping the
same slot at once get one booking and one "taken"."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from accounts.languages import user_language
from alerts.notify.services import push_to_devices
from appointments.models import Appointment, AppointmentStatus, Mode
from appointments.selectors import Slot, open_slots, side_of
from consultations.models import Consultation, Urgency
from consultations.services import consultation_request, consultation_take
from healthhub.live import group_send_now, worker_group
from workers.models import StaffRole, Worker
from workers.roles import sites_for_role


class AppointmentError(Exception):
    """A booking or change that cannot be made; the message says why, in the
    user's language."""


def _conf(name: str) -> int:
    return settings.APPOINTMENTS[name]


def _book_one(*, worker: Worker, slot: Slot, by: AbstractBaseUser, now: datetime) -> Appointment | None:
    try:
        with transaction.atomic():
            return Appointment.objects.create(
                worker=worker,
                clinician_id=slot.clinician_id,
                site=worker.site,
                mode=slot.mode,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                booked_at=now,
                booked_by=by,
            )
    except IntegrityError:
        return None  # taken a moment ago, or the worker has one at that time


def _publish(appointment: Appointment, change: str) -> None:
    event = {"type": "appointment.changed", "change": change, "appointment": appointment.pk}
    transaction.on_commit(lambda: group_send_now(worker_group(appointment.worker_id), event))


@transaction.atomic
def appointment_book(
    *,
    worker: Worker,
    starts_at: datetime,
    mode: str,
    by: AbstractBaseUser,
    replaces: Appointment | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book a free slot at ``starts_at`` for ``worker`` with any clinician of
    the worker's site who offers it in ``mode``; with ``replaces``, move that
    appointment there (both happen or neither). Raises AppointmentError when
    no clinician is free then."""
    now = now or timezone.now()
    if mode not in Mode.values:
        raise AppointmentError(gettext("Choose how you want to meet."))
    if replaces is not None:
        _cancel(replaces, by=by, now=now)
    candidates = [
        s
        for s in open_slots(site=worker.site, start=starts_at, end=starts_at + timedelta(minutes=1), now=now)
        if s.starts_at == starts_at and s.mode == mode
    ]
    for slot in candidates:
        appointment = _book_one(worker=worker, slot=slot, by=by, now=now)
        if appointment is not None:
            _publish(appointment, "rescheduled" if replaces else "booked")
            return appointment
    raise AppointmentError(gettext("That time is no longer free. Please choose another."))


def _check_cutoff(appointment: Appointment, by: AbstractBaseUser, now: datetime) -> None:
    if appointment.status != AppointmentStatus.BOOKED:
        raise AppointmentError(gettext("This appointment is no longer booked."))
    if appointment.starts_at <= now:
        raise AppointmentError(gettext("This appointment has already started."))
    cutoff = appointment.starts_at - timedelta(minutes=_conf("CHANGE_CUTOFF_MINUTES"))
    if by.pk == appointment.worker.user_id and now > cutoff:
        raise AppointmentError(
            gettext("Appointments can be changed up to %(minutes)d minutes before they start.")
            % {"minutes": _conf("CHANGE_CUTOFF_MINUTES")}
        )


def _cancel(appointment: Appointment, *, by: AbstractBaseUser, now: datetime) -> None:
    locked = Appointment.objects.select_for_update().select_related("worker").get(pk=appointment.pk)
    if side_of(by, locked) is None:
        raise AppointmentError(gettext("This is not your appointment."))
    _check_cutoff(locked, by, now)
    locked.status = AppointmentStatus.CANCELLED
    locked.cancelled_at = now
    locked.save(update_fields=["status", "cancelled_at"])
    appointment.status, appointment.cancelled_at = locked.status, locked.cancelled_at


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, by: AbstractBaseUser, now: datetime | None = None) -> None:
    """The worker (up to the cut-off) or a clinician of the site cancels."""
    _cancel(appointment, by=by, now=now or timezone.now())
    _publish(appointment, "cancelled")


@transaction.atomic
def appointment_propose(
    *, clinician: AbstractBaseUser, worker: Worker, starts_at: datetime, mode: str, now: datetime | None = None
) -> Appointment:
    """A clinician of the worker's site books a follow-up for the worker
    ("in 3 days"), at a time of the clinician's choosing; the worker sees it
    at once and may move or cancel it like their own."""
    now = now or timezone.now()
    if not sites_for_role(clinician, StaffRole.CLINICIAN).filter(pk=worker.site_id).exists():
        raise AppointmentError(gettext("Only a clinician of the worker's site can propose an appointment."))
    if mode not in Mode.values:
        raise AppointmentError(gettext("Choose how you want to meet."))
    if starts_at <= now:
        raise AppointmentError(gettext("Choose a time in the future."))
    slot = Slot(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=_conf("PROPOSED_MINUTES")),
        clinician_id=clinician.pk,
        mode=mode,
    )
    appointment = _book_one(worker=worker, slot=slot, by=clinician, now=now)
    if appointment is None:
        raise AppointmentError(gettext("You or the worker already have an appointment at that time."))
    _publish(appointment, "proposed")
    return appointment


def room_is_open(appointment: Appointment, now: datetime) -> bool:
    early = timedelta(minutes=_conf("ROOM_OPENS_MINUTES_BEFORE"))
    return (
        appointment.status == AppointmentStatus.BOOKED and appointment.starts_at - early <= now <= appointment.ends_at
    )


@transaction.atomic
def appointment_join(*, appointment_id: int, user: AbstractBaseUser, now: datetime | None = None) -> Consultation:
    """Open the consultation room of a booked appointment: from a few
    minutes before its start until its end, for its worker and the site's
    clinicians. The first to join makes the room (a consultation taken by
    the appointment's clinician); the worker's joining is recorded, so that
    a missed appointment can be told from an attended one."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_for_update().select_related("worker__user").get(pk=appointment_id)
    side = side_of(user, appointment)
    if side is None:
        raise Appointment.DoesNotExist
    if not room_is_open(appointment, now):
        raise AppointmentError(gettext("The room opens a few minutes before the appointment."))
    if appointment.consultation_id is None:
        tz = ZoneInfo(appointment.site.timezone)
        # Language-neutral: the date and time of the booking, not a sentence.
        reason = f"{appointment.starts_at.astimezone(tz):%Y-%m-%d %H:%M} ({appointment.mode})"
        requested = consultation_request(worker=appointment.worker, reason=reason, urgency=Urgency.ROUTINE, now=now)
        appointment.consultation = consultation_take(
            consultation_id=requested.pk, clinician=appointment.clinician, now=now
        )
    if side == "worker" and appointment.worker_joined_at is None:
        appointment.worker_joined_at = now
    appointment.save(update_fields=["consultation", "worker_joined_at"])
    return appointment.consultation


def appointments_close_past(*, now: datetime | None = None) -> tuple[int, int]:
    """Beat: booked appointments over for a while become attended (the
    worker joined) or missed. Returns (attended, missed)."""
    now = now or timezone.now()
    over = Appointment.objects.filter(
        status=AppointmentStatus.BOOKED, ends_at__lt=now - timedelta(minutes=_conf("NO_SHOW_GRACE_MINUTES"))
    )
    attended = over.filter(worker_joined_at__isnull=False).update(status=AppointmentStatus.COMPLETED)
    missed = over.filter(worker_joined_at__isnull=True).update(status=AppointmentStatus.NO_SHOW)
    return attended, missed


REMINDERS = {
    # field: how long before the start it goes out
    "reminded_day_before_at": timedelta(days=1),
    "reminded_soon_at": timedelta(minutes=15),
}


def reminder_text(appointment: Appointment, language: str) -> str:
    """The reminder, with the time and nothing of the worker's health."""
    tz = ZoneInfo(appointment.site.timezone)
    with translation.override(language):
        when = formats.date_format(appointment.starts_at.astimezone(tz), "DATETIME_FORMAT")
        return gettext("Reminder: your healthhub appointment (%(how)s) is at %(when)s.") % {
            "how": Mode(appointment.mode).label,
            "when": when,
        }


def _remind(appointment: Appointment) -> None:
    # In the worker's own language (accounts.languages): a reminder has no
    # request to take one from.
    language = user_language(appointment.worker.user)
    text = reminder_text(appointment, language)
    group_send_now(
        worker_group(appointment.worker_id),
        {"type": "appointment.reminder", "appointment": appointment.pk, "text": text},
    )
    # The worker's phones (Web Push, where they subscribed): the text names
    # a time and a way of meeting, nothing of their health.
    push_to_devices(
        user=appointment.worker.user,
        payload={
            "title": "healthhub",
            "body": text,
            "url": "/me/appointments/",
            "tag": f"appointment-{appointment.pk}",
        },
    )
    email = appointment.worker.user.email
    if email:
        with translation.override(language):
            subject = gettext("healthhub appointment reminder")
        send_mail(subject, text, None, [email])


def appointment_reminders_send(*, now: datetime | None = None) -> int:
    """Beat: send each reminder that is due, once. Each is claimed with a
    conditional UPDATE first (two beat processes never both send); a send
    that fails gives the claim back, so the next run tries again."""
    now = now or timezone.now()
    sent = 0
    for field, lead in REMINDERS.items():
        due = Appointment.objects.filter(
            status=AppointmentStatus.BOOKED, starts_at__gt=now, starts_at__lte=now + lead, **{f"{field}__isnull": True}
        ).select_related("worker__user", "site")
        for appointment in due:
            claimed = Appointment.objects.filter(pk=appointment.pk, **{f"{field}__isnull": True}).update(**{field: now})
            if not claimed:
                continue
            if field == "reminded_day_before_at" and appointment.starts_at - now <= REMINDERS["reminded_soon_at"]:
                continue  # booked at short notice: the 15-minute reminder is the one that matters
            try:
                _remind(appointment)
            except Exception:
                Appointment.objects.filter(pk=appointment.pk).update(**{field: None})
                raise
            sent += 1
    return sent
