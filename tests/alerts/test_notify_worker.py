"""From an SOS verdict to a decrypted message at a push endpoint, through
the same path as production: the notification row committed with the
alert, the send task on the urgent queue, and, in the PostgreSQL + Redis run
of .ci/run, a separate Celery worker process that signs, encrypts and posts."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import DeliveryStatus, Notification, OnCall
from alerts.notify import services as notify
from alerts.rules.base import Evaluation, Severity
from tests.alerts.push_receiver import PushService

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_sos_reaches_the_on_call_phone_through_the_queue(alice, clara, celery_worker_mode, settings):
    service = PushService(settings.NOTIFY["VAPID_PUBLIC_KEY"])
    try:
        now = timezone.now()
        OnCall.objects.create(
            site=alice.site, shift="day", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=11),
            primary=clara,
        )  # fmt: skip
        endpoint, browser = service.subscribe("clara-phone")
        notify.subscription_save(user=clara, name="phone", endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)
        latencies = []
        for kind in ("sos", "fall"):
            service.event.clear()
            started = time.monotonic()
            services.alert_apply(
                worker_id=alice.pk, evaluation=Evaluation.active(kind, Severity.CRITICAL, "x"), now=timezone.now()
            )
            assert service.event.wait(30), f"no push for the {kind} (worker mode: {celery_worker_mode})"
            latencies.append(service.received[-1].at - started)
        deadline = time.monotonic() + 10
        while Notification.objects.exclude(status=DeliveryStatus.SENT).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(Notification.objects.values_list("status", flat=True)) == ["sent", "sent"]
        assert [m.payload["tag"] for m in service.received] == [
            f"alert-{pk}" for pk in Notification.objects.order_by("pk").values_list("alert_id", flat=True)
        ]
        # Measured: in-process on SQLite 0.02-0.07 s; with the real worker on
        # PostgreSQL and Redis 0.22-1.24 s (the first push of a run is the
        # slowest), on the shared 2-core machine. The bound is the p99 target.
        assert max(latencies) < 2.0, latencies
    finally:
        service.close()
