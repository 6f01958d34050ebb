"""Booking, rescheduling, cancelling, proposing, joining, no-shows and
reminders, each with a fixed clock."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core import mail

from appointments import services
from appointments.models import Appointment, AppointmentStatus, Availability, AvailabilityException
from appointments.selectors import offers_for, open_slots
from appointments.services import AppointmentError
from tests.appointments.conftest import MONDAY_9, SEOUL, seoul
from tests.factories import staff
from workers.models import Shift

pytestmark = pytest.mark.django_db


def test_weekly_hours_give_slots_in_the_sites_time(clara_hours, site_a):
    slots = open_slots(site=site_a, start=MONDAY_9, end=MONDAY_9 + timedelta(days=2), now=MONDAY_9)
    assert [s.starts_at.astimezone(SEOUL).strftime("%a %H:%M") for s in slots] == [
        "Mon 14:00", "Mon 14:20", "Mon 14:40", "Tue 14:00", "Tue 14:20", "Tue 14:40",
    ]  # fmt: skip


def test_a_day_away_and_extra_hours_change_the_slots(clara_hours, clara, site_a):
    AvailabilityException.objects.create(clinician=clara, site=site_a, day=seoul(0, 0).date())
    AvailabilityException.objects.create(
        clinician=clara, site=site_a, day=seoul(1, 0).date(), available=True, starts=time(2), ends=time(3),
        slot_minutes=30,
    )  # fmt: skip
    slots = open_slots(site=site_a, start=MONDAY_9, end=MONDAY_9 + timedelta(days=2), now=MONDAY_9)
    assert [s.starts_at.astimezone(SEOUL).strftime("%a %H:%M") for s in slots] == [
        "Tue 02:00", "Tue 02:30", "Tue 14:00", "Tue 14:20", "Tue 14:40",
    ]  # fmt: skip


def test_night_hours_run_past_midnight(clara, site_a):
    Availability.objects.create(clinician=clara, site=site_a, weekday=0, starts=time(23), ends=time(1), slot_minutes=30)
    slots = open_slots(site=site_a, start=MONDAY_9, end=MONDAY_9 + timedelta(days=1), now=MONDAY_9)
    assert [s.starts_at.astimezone(SEOUL).strftime("%a %H:%M") for s in slots] == [
        "Mon 23:00", "Mon 23:30", "Tue 00:00", "Tue 00:30",
    ]  # fmt: skip


def test_slots_follow_daylight_saving_where_the_site_has_it(clara, site_a):
    """Berlin moves its clocks on 2026-03-29 at 02:00: a slot grid over the
    change keeps 30-minute slots of real time."""
    site_a.timezone = "Europe/Berlin"
    site_a.save()
    Availability.objects.create(clinician=clara, site=site_a, weekday=6, starts=time(1), ends=time(4), slot_minutes=30)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 28, 12, tzinfo=berlin)
    slots = open_slots(site=site_a, start=now, end=now + timedelta(days=2), now=now)
    lengths = {s.ends_at - s.starts_at for s in slots}
    assert lengths == {timedelta(minutes=30)}
    assert [s.starts_at.astimezone(berlin).strftime("%H:%M") for s in slots] == ["01:00", "01:30", "03:00", "03:30"]


def test_booking_takes_the_slot_and_nobody_else_gets_it(clara_hours, alice, bob):
    at = seoul(0, 14, 20)
    booked = services.appointment_book(worker=alice, starts_at=at, mode="video", by=alice.user, now=MONDAY_9)
    assert booked.status == AppointmentStatus.BOOKED and booked.ends_at - booked.starts_at == timedelta(minutes=20)
    with pytest.raises(AppointmentError):
        services.appointment_book(worker=bob, starts_at=at, mode="video", by=bob.user, now=MONDAY_9)
    left = open_slots(site=alice.site, start=MONDAY_9, end=seoul(1, 0), now=MONDAY_9)
    assert [s.starts_at.astimezone(SEOUL).strftime("%H:%M") for s in left] == ["14:00", "14:40"]


def test_a_second_clinician_at_the_same_time_takes_the_next_booking(clara_hours, alice, bob, site_a):
    cleo = staff("cleo", "clinician", site_a)
    Availability.objects.create(clinician=cleo, site=site_a, weekday=0, starts=time(14), ends=time(15), slot_minutes=20)
    at = seoul(0, 14)
    first = services.appointment_book(worker=alice, starts_at=at, mode="video", by=alice.user, now=MONDAY_9)
    second = services.appointment_book(worker=bob, starts_at=at, mode="video", by=bob.user, now=MONDAY_9)
    assert {first.clinician_id, second.clinician_id} == {cleo.pk, site_a.staff.get(user__username="clara").user_id}


def test_the_database_refuses_a_double_booking(clara_hours, alice, bob, clara):
    from django.db import IntegrityError

    at = seoul(0, 14)
    kwargs = dict(clinician=clara, site=alice.site, mode="video", starts_at=at, ends_at=at + timedelta(minutes=20))
    Appointment.objects.create(worker=alice, booked_at=MONDAY_9, booked_by=alice.user, **kwargs)
    with pytest.raises(IntegrityError):
        Appointment.objects.create(worker=bob, booked_at=MONDAY_9, booked_by=bob.user, **kwargs)


def test_a_time_outside_the_published_hours_cannot_be_booked(clara_hours, alice):
    with pytest.raises(AppointmentError):
        services.appointment_book(worker=alice, starts_at=seoul(0, 16), mode="video", by=alice.user, now=MONDAY_9)
    with pytest.raises(AppointmentError):
        services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="chat", by=alice.user, now=MONDAY_9)


def test_rescheduling_moves_the_booking_or_leaves_it_as_it_was(clara_hours, alice, bob):
    old = services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="video", by=alice.user, now=MONDAY_9)
    services.appointment_book(worker=bob, starts_at=seoul(1, 14), mode="video", by=bob.user, now=MONDAY_9)
    with pytest.raises(AppointmentError):  # taken by bob: alice keeps her booking
        services.appointment_book(
            worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, replaces=old, now=MONDAY_9
        )
    old.refresh_from_db()
    assert old.status == AppointmentStatus.BOOKED
    new = services.appointment_book(
        worker=alice, starts_at=seoul(1, 14, 20), mode="video", by=alice.user, replaces=old, now=MONDAY_9
    )
    old.refresh_from_db()
    assert old.status == AppointmentStatus.CANCELLED and new.status == AppointmentStatus.BOOKED


def test_the_worker_may_cancel_only_before_the_cutoff_but_a_clinician_may(clara_hours, alice, clara):
    booked = services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="video", by=alice.user, now=MONDAY_9)
    with pytest.raises(AppointmentError):
        services.appointment_cancel(appointment=booked, by=alice.user, now=seoul(0, 13, 30))
    services.appointment_cancel(appointment=booked, by=clara, now=seoul(0, 13, 30))
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED


def test_nobody_else_can_cancel(clara_hours, alice, bob, carl):
    booked = services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="video", by=alice.user, now=MONDAY_9)
    for other in (bob.user, carl):
        with pytest.raises(AppointmentError):
            services.appointment_cancel(appointment=booked, by=other, now=MONDAY_9)


def test_a_clinician_proposes_a_follow_up_for_a_worker_of_their_site_only(clara, carl, alice):
    at = MONDAY_9 + timedelta(days=3)
    proposed = services.appointment_propose(clinician=clara, worker=alice, starts_at=at, mode="chat", now=MONDAY_9)
    assert proposed.booked_by == clara and proposed.clinician == clara
    with pytest.raises(AppointmentError):
        services.appointment_propose(clinician=carl, worker=alice, starts_at=at, mode="chat", now=MONDAY_9)
    with pytest.raises(AppointmentError):  # clara is busy then
        services.appointment_propose(clinician=clara, worker=alice, starts_at=at, mode="video", now=MONDAY_9)


def test_the_room_opens_at_the_slot_and_both_meet_in_one_consultation(clara_hours, alice, clara, bob):
    booked = services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="video", by=alice.user, now=MONDAY_9)
    with pytest.raises(AppointmentError):
        services.appointment_join(appointment_id=booked.pk, user=alice.user, now=seoul(0, 13, 50))
    with pytest.raises(Appointment.DoesNotExist):
        services.appointment_join(appointment_id=booked.pk, user=bob.user, now=seoul(0, 14))
    room = services.appointment_join(appointment_id=booked.pk, user=alice.user, now=seoul(0, 13, 56))
    again = services.appointment_join(appointment_id=booked.pk, user=clara, now=seoul(0, 14, 1))
    assert room.pk == again.pk and room.clinician == clara and room.status == "active"
    booked.refresh_from_db()
    assert booked.worker_joined_at == seoul(0, 13, 56)


def test_past_appointments_become_attended_or_missed(clara_hours, alice, bob):
    came = services.appointment_book(worker=alice, starts_at=seoul(0, 14), mode="video", by=alice.user, now=MONDAY_9)
    missed = services.appointment_book(worker=bob, starts_at=seoul(0, 14, 20), mode="video", by=bob.user, now=MONDAY_9)
    services.appointment_join(appointment_id=came.pk, user=alice.user, now=seoul(0, 14))
    assert services.appointments_close_past(now=seoul(0, 14, 25)) == (0, 0)  # within the grace period
    assert services.appointments_close_past(now=seoul(0, 15, 0)) == (1, 1)
    came.refresh_from_db()
    missed.refresh_from_db()
    assert came.status == AppointmentStatus.COMPLETED and missed.status == AppointmentStatus.NO_SHOW


def test_reminders_go_out_the_day_before_and_15_minutes_before_once_each(clara_hours, alice):
    alice.user.email = "alice@example.test"
    alice.user.save()
    booked = services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)
    assert services.appointment_reminders_send(now=seoul(0, 13, 59)) == 0  # more than a day ahead
    assert services.appointment_reminders_send(now=seoul(0, 14, 0)) == 1
    assert services.appointment_reminders_send(now=seoul(0, 14, 1)) == 0  # once
    assert services.appointment_reminders_send(now=seoul(1, 13, 44)) == 0
    assert services.appointment_reminders_send(now=seoul(1, 13, 45)) == 1
    assert services.appointment_reminders_send(now=seoul(1, 13, 50)) == 0
    assert len(mail.outbox) == 2
    booked.refresh_from_db()
    assert booked.reminded_day_before_at == seoul(0, 14) and booked.reminded_soon_at == seoul(1, 13, 45)


def test_a_reminder_says_when_and_nothing_of_health(clara_hours, alice):
    booked = services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)
    text = services.reminder_text(booked, "en")
    assert "healthhub appointment" in text and "Video call" in text and "2 p.m." in text


def test_a_failed_reminder_is_tried_again(clara_hours, alice, monkeypatch):
    services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)

    def broken(appointment):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(services, "_remind", broken)
    with pytest.raises(ConnectionError):
        services.appointment_reminders_send(now=seoul(0, 14))
    monkeypatch.undo()
    assert services.appointment_reminders_send(now=seoul(0, 14, 1)) == 1


def test_a_day_worker_is_not_offered_the_night_and_sees_slots_in_their_shift(clara, alice, site_a):
    Availability.objects.create(clinician=clara, site=site_a, weekday=0, starts=time(2), ends=time(3), slot_minutes=30)
    Availability.objects.create(
        clinician=clara, site=site_a, weekday=0, starts=time(10), ends=time(11), slot_minutes=30
    )
    Shift.objects.create(worker=alice, starts_at=seoul(0, 8), ends_at=seoul(0, 17))
    monday_0 = seoul(0, 0)
    offers = offers_for(worker=alice, now=monday_0, days=1, lead_minutes=0, show_all=False)
    assert [(o.starts_at.astimezone(SEOUL).strftime("%H:%M"), o.during_shift) for o in offers] == [
        ("10:00", True), ("10:30", True),
    ]  # fmt: skip
    everything = offers_for(worker=alice, now=monday_0, days=1, lead_minutes=0, show_all=True)
    assert [o.night for o in everything] == [True, True, False, False]
    alice.shift_pattern = "night"
    assert len(offers_for(worker=alice, now=monday_0, days=1, lead_minutes=0, show_all=False)) == 4


def test_a_clinician_who_left_the_site_is_not_offered(clara_hours, clara, site_a, alice):
    clara.staff_profile.sites.clear()
    assert open_slots(site=site_a, start=MONDAY_9, end=MONDAY_9 + timedelta(days=2), now=MONDAY_9) == []


def test_a_reminder_goes_to_the_workers_phones_too(clara_hours, alice, monkeypatch):
    pushed = []
    monkeypatch.setattr(services, "push_to_devices", lambda *, user, payload: pushed.append((user, payload)) or 1)
    services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)
    assert services.appointment_reminders_send(now=seoul(0, 14)) == 1
    [(user, payload)] = pushed
    assert user == alice.user and payload["url"] == "/me/appointments/"
    assert payload["body"] == services.reminder_text(Appointment.objects.get(worker=alice), "ko")
