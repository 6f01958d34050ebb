"""A night-shift worker books a video consultation on a 360 px phone in
Vietnamese, in three taps, and meets the clinician in the room at its time.

The server runs in its own process, so its clock cannot be moved: once the
slot is booked, the test moves the booking to start two minutes from now,
as if the hours had passed, and the worker and the clinician then join."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appointments.models import Appointment, AppointmentStatus, Availability
from tests.browser.conftest import new_context, off_the_loop, sign_in
from workers.models import Worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _prepare(alice, clara):
    Worker.objects.filter(pk=alice.pk).update(language="vi", shift_pattern="night")
    for weekday in range(7):  # night-shift cover, every day
        Availability.objects.create(
            clinician=clara, site=alice.site, weekday=weekday, starts=time(0), ends=time(23, 40), slot_minutes=20
        )


def _move_to_now(appointment_id: int) -> None:
    start = timezone.now() + timedelta(minutes=2)
    Appointment.objects.filter(pk=appointment_id).update(starts_at=start, ends_at=start + timedelta(minutes=20))


def test_a_worker_books_in_vietnamese_on_a_phone_and_meets_the_clinician_at_the_slot(browser, server, alice, clara):
    off_the_loop(_prepare, alice, clara)
    phone = new_context(browser, server, phone=True)  # Korean browser; the worker chose Vietnamese
    desk = new_context(browser, server, phone=False)
    try:
        worker = phone.new_page()
        errors: list[str] = []
        worker.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(worker, "alice")
        assert worker.locator("html").get_attribute("lang") == "vi"

        # Tap 1: the Appointments tab; "Book a time".
        worker.locator(".portal-tabs a[href='/me/appointments/']").click()
        worker.wait_for_url("**/me/appointments/")
        worker.locator("a[href='/me/appointments/book/']").first.click()
        worker.wait_for_url("**/me/appointments/book/")
        # Tap 2 and 3: a time, and its button books it.
        first = worker.locator("button.slot").first
        expect(first).to_be_visible()
        box = first.bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= 360
        with worker.expect_navigation():
            first.click()
        assert worker.url.endswith("/me/appointments/")
        booked = off_the_loop(lambda: Appointment.objects.get(worker=alice, status=AppointmentStatus.BOOKED))
        assert worker.evaluate("document.documentElement.scrollWidth") <= 360

        # The hours pass: the room opens, and both join.
        off_the_loop(_move_to_now, booked.pk)
        worker.reload()
        with worker.expect_navigation():
            worker.locator(f"li[data-id='{booked.pk}'] form[action$='/join/'] button").click()
        assert "/consultations/" in worker.url
        room = worker.url

        clinician = desk.new_page()
        sign_in(clinician, "clara")
        clinician.goto("/desk/appointments/")
        with clinician.expect_navigation():
            clinician.locator(f"form[action='/desk/appointments/{booked.pk}/join/'] button").click()
        assert clinician.url == room
        consultation = off_the_loop(lambda: Appointment.objects.get(pk=booked.pk).consultation)
        assert consultation is not None and consultation.clinician_id == clara.pk
        assert errors == []
    finally:
        phone.close()
        desk.close()
