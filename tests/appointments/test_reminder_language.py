"""A reminder reaches the worker in the language they chose, by e-mail and
on the portal, with the time in that language's format."""

from __future__ import annotations

from django.core import mail

from appointments import services
from tests.appointments.conftest import MONDAY_9, seoul
from workers.services import worker_language_set


def test_a_reminder_is_in_the_workers_chosen_language(clara_hours, alice):
    alice.user.email = "alice@example.test"
    alice.user.save()
    worker_language_set(worker=alice, language="vi")
    services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)
    assert services.appointment_reminders_send(now=seoul(0, 14, 0)) == 1
    (sent,) = mail.outbox
    assert sent.subject == "Nhắc lịch hẹn healthhub"
    # Vietnamese's own date format (django/conf/locale/vi/formats.py).
    assert sent.body == "Nhắc lịch: lịch hẹn healthhub của bạn (Gọi video) vào lúc 14:00 Ngày 01 tháng 12 năm 2026."


def test_a_worker_who_never_chose_gets_the_site_default(clara_hours, alice):
    alice.user.email = "alice@example.test"
    alice.user.save()
    services.appointment_book(worker=alice, starts_at=seoul(1, 14), mode="video", by=alice.user, now=MONDAY_9)
    services.appointment_reminders_send(now=seoul(0, 14, 0))
    assert mail.outbox[0].subject == "healthhub 예약 알림"
