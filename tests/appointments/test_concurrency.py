"""Two workers tapping the same slot at the same moment: one booking, one
"taken", decided by the database (run with DATABASE_URL on PostgreSQL in
.ci/run; SQLite serialises writers, so the race is real only there)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from appointments import services
from appointments.models import Appointment, AppointmentStatus
from appointments.services import AppointmentError
from tests.appointments.conftest import MONDAY_9, seoul
from tests.factories import WorkerFactory


@pytest.mark.django_db(transaction=True)
def test_parallel_bookings_of_one_slot_give_exactly_one(clara_hours, alice):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    workers = [alice] + [WorkerFactory(department=alice.department) for _ in range(7)]
    at = seoul(0, 14)
    barrier = threading.Barrier(len(workers))
    outcomes: list[str] = []

    def book(worker):
        try:
            barrier.wait()
            services.appointment_book(worker=worker, starts_at=at, mode="video", by=worker.user, now=MONDAY_9)
            outcomes.append("booked")
        except AppointmentError:
            outcomes.append("taken")
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] + ["taken"] * 7
    assert Appointment.objects.filter(starts_at=at, status=AppointmentStatus.BOOKED).count() == 1
