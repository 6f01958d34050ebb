"""The worker books in three taps on the phone; clinicians see the booked
slots, join the room and propose follow-ups; the calendar feed carries no
health details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import services
from appointments.models import Appointment, AppointmentStatus, CalendarFeed
from appointments.selectors import open_slots

pytestmark = pytest.mark.django_db


@pytest.fixture
def soon_hours(clara, site_a):
    """clara takes video appointments all day, every day (so that real "now"
    always has slots ahead)."""
    from datetime import time

    from appointments.models import Availability

    for weekday in range(7):
        Availability.objects.create(
            clinician=clara, site=site_a, weekday=weekday, starts=time(0), ends=time(23, 40), slot_minutes=20
        )


def test_a_worker_books_in_three_taps(client, alice, soon_hours):
    client.force_login(alice.user)
    listing = client.get(reverse("portal:appointments"))  # tap 1: the Appointments tab, then "Book a time"
    assert reverse("portal:appointment-book") in listing.content.decode()
    page = client.get(reverse("portal:appointment-book"))  # tap 2: the slots
    offers = page.context["days"][0][1]
    chosen = offers[0]
    response = client.post(  # tap 3: the slot's button books it
        reverse("portal:appointment-book"), {"starts_at": chosen.starts_at.isoformat(), "mode": chosen.mode}
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:appointments")
    booked = Appointment.objects.get(worker=alice)
    assert booked.starts_at == chosen.starts_at and booked.status == AppointmentStatus.BOOKED


def test_a_taken_slot_says_so(client, alice, bob, soon_hours):
    client.force_login(alice.user)
    chosen = client.get(reverse("portal:appointment-book")).context["days"][0][1][0]
    services.appointment_book(worker=bob, starts_at=chosen.starts_at, mode="video", by=bob.user)
    response = client.post(
        reverse("portal:appointment-book"),
        {"starts_at": chosen.starts_at.isoformat(), "mode": "video"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "no longer free" in response.content.decode()
    assert not Appointment.objects.filter(worker=alice).exists()


def test_bad_input_is_a_form_error_not_a_crash(client, alice, soon_hours):
    client.force_login(alice.user)
    for data in ({"starts_at": "9999-99-99", "mode": "video"}, {"starts_at": "2026-12-01T10:00", "mode": "x"}, {}):
        assert client.post(reverse("portal:appointment-book"), data).status_code == 200
    assert client.get(reverse("portal:appointment-book"), {"replaces": "99999999999999999999"}).status_code == 200


def test_a_worker_cannot_touch_anothers_appointment(client, alice, bob, soon_hours):
    chosen = services.appointment_book(
        worker=bob,
        starts_at=open_slots(
            site=bob.site, start=timezone.now(), end=timezone.now() + timedelta(days=2), now=timezone.now(),
            lead_minutes=120,
        )[0].starts_at,
        mode="video",
        by=bob.user,
    )  # fmt: skip
    client.force_login(alice.user)
    assert client.post(reverse("portal:appointment-cancel", args=[chosen.pk])).status_code == 404
    assert client.get(reverse("portal:appointment-book"), {"replaces": chosen.pk}).status_code == 404
    chosen.refresh_from_db()
    assert chosen.status == AppointmentStatus.BOOKED


def test_clinicians_of_the_site_see_booked_slots_others_do_not(client, alice, clara, carl, hana, soon_hours):
    slot = open_slots(
        site=alice.site, start=timezone.now(), end=timezone.now() + timedelta(days=1), now=timezone.now()
    )[0]
    services.appointment_book(worker=alice, starts_at=slot.starts_at, mode="video", by=alice.user)
    client.force_login(clara)
    page = client.get(reverse("desk:appointments")).content.decode()
    assert alice.employee_number in page or alice.user.last_name in page
    for other in (carl, hana):
        client.force_login(other)
        response = client.get(reverse("desk:appointments"))
        assert response.status_code == 404 or alice.user.last_name not in response.content.decode()


def test_the_calendar_feed_has_times_only(client, alice, clara, soon_hours):
    slot = open_slots(
        site=alice.site, start=timezone.now(), end=timezone.now() + timedelta(days=1), now=timezone.now()
    )[0]
    services.appointment_book(worker=alice, starts_at=slot.starts_at, mode="video", by=alice.user)
    feed = CalendarFeed.objects.create(clinician=clara)
    response = client.get(f"/desk/calendar/{feed.token}.ics")
    body = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert body.count("BEGIN:VEVENT") == 1
    for private in (alice.user.first_name, alice.user.last_name, alice.employee_number):
        assert private not in body
    assert client.get("/desk/calendar/not-a-token.ics").status_code == 404


def test_a_clinician_proposes_a_follow_up_from_the_worker_page(client, alice, clara, carl):
    at = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    client.force_login(carl)
    data = {"worker": alice.pk, "starts_at": at.isoformat(), "mode": "chat"}
    assert client.post(reverse("desk:appointment-propose"), data).status_code == 404
    client.force_login(clara)
    response = client.post(reverse("desk:appointment-propose"), data)
    assert response.status_code == 302
    assert Appointment.objects.get(worker=alice).booked_by == clara
