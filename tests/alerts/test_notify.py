"""Notifications: Web Push through a local push service that decrypts each
message as a browser would, email, SMS through a local fake of the provider,
per-user channels and quiet hours, and the durable rows that a sweeper
re-sends when the fast path is lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from alerts import services
from alerts.models import Alert, DeliveryStatus, Notification, OnCall, PushSubscription
from alerts.notify import services as notify
from alerts.notify.sms import LoggingGateway, SmsError, SolapiGateway
from alerts.rules.base import Evaluation, Severity
from tests.factories import staff

pytestmark = pytest.mark.django_db
SEOUL = ZoneInfo("Asia/Seoul")


def apply(worker, evaluation):
    """alert_apply as a committed transaction (what runs after commit runs)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.alert_apply(worker_id=worker.pk, evaluation=evaluation, now=timezone.now())


def sos(worker):
    return apply(worker, Evaluation.active("sos", Severity.CRITICAL, "SOS button pressed"))


def urgent(worker):
    return apply(worker, Evaluation.active("hypoxemia", Severity.URGENT, "Blood oxygen is low"))


def on_call(site, primary, backup=None, now=None):
    now = now or timezone.now()
    return OnCall.objects.create(
        site=site, shift="day", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=11),
        primary=primary, backup=backup,
    )  # fmt: skip


@pytest.fixture
def clara_paged(alice, clara, push_service):
    """clara is on call at alice's site, takes warnings and worse by push,
    and has her phone subscribed."""
    on_call(alice.site, clara)
    prefs(clara)
    subscribe(push_service, clara)


def subscribe(push_service, user, name="phone"):
    endpoint, browser = push_service.subscribe(f"{user.username}-{name}")
    notify.subscription_save(user=user, name=name, endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)
    return endpoint


def prefs(user, language="en", **channels):
    defaults = {"push": ["warning", "urgent", "critical"], "email": [], "sms": []}
    return notify.preference_save(
        user=user, channels={**defaults, **channels}, phone="01012345678", quiet_start=None, quiet_end=None,
        language=language, time_zone="Asia/Seoul",
    )  # fmt: skip


@pytest.mark.usefixtures("clara_paged")
def test_sos_reaches_the_primary_on_call_phone_encrypted_and_without_diagnosis(alice, clara, push_service):
    started = time.monotonic()
    alert = sos(alice)
    assert push_service.event.wait(5)
    latency = push_service.received[0].at - started
    [message] = push_service.received
    assert message.payload == {
        "title": "healthhub",
        "body": "Critical alert at Plant A: open healthhub",
        "url": "/",
        "tag": f"alert-{alert.pk}",
    }
    raw = json.dumps(message.payload)
    assert "SOS" not in raw and alice.employee_number not in raw and alice.user.last_name not in raw
    assert message.vapid_claims["aud"] == f"http://127.0.0.1:{push_service.server.server_port}"
    assert message.vapid_claims["sub"].startswith("mailto:")
    assert message.headers["content-encoding"] == "aes128gcm"
    assert message.headers["urgency"] == "high"
    row = Notification.objects.get()
    assert (row.user, row.channel, row.status, row.attempts) == (clara, "push", DeliveryStatus.SENT, 1)
    # Measured in-process (SQLite, eager task): 0.02–0.07 s from the verdict to the decrypted message.
    assert latency < 0.5


def test_the_worker_hears_of_their_own_alert_in_their_words(alice, push_service):
    prefs(alice.user, language="ko")
    subscribe(push_service, alice.user)
    sos(alice)
    assert push_service.event.wait(5)
    assert push_service.received[0].payload["body"] == "새 알림이 있습니다: healthhub를 열어 보세요"


@pytest.mark.usefixtures("clara_paged")
def test_every_device_of_the_user_gets_it_and_a_gone_one_is_forgotten(alice, clara, push_service):
    gone = subscribe(push_service, clara, "tablet")
    push_service.browsers.pop(gone.split(str(push_service.server.server_port))[1])
    original = push_service.browsers.copy()

    class Gone(Exception):
        pass

    # The tablet's subscription has expired at the push service: 410 Gone.
    handler = push_service.server.RequestHandlerClass
    post = handler.do_POST

    def do_post(self):
        if self.path not in original:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(410)
            self.end_headers()
            return
        post(self)

    handler.do_POST = do_post
    sos(alice)
    assert [m.path for m in push_service.received] == ["/push/clara-phone"]
    assert list(PushSubscription.objects.values_list("name", flat=True)) == ["phone"]
    assert Notification.objects.get().status == DeliveryStatus.SENT


@pytest.mark.usefixtures("clara_paged")
def test_a_refused_push_is_retried_with_backoff_until_it_goes_through(alice, clara, push_service):
    push_service.status = 503
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sos(alice)
        row = Notification.objects.get()
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "push service answered 503")
        assert row.next_attempt_at == timezone.now() + timedelta(seconds=5)
        assert notify.notifications_sweep() == 0  # not due yet
        push_service.status = 201
        clock.shift(5)
        assert notify.notifications_sweep() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(push_service.received) == 1


@pytest.mark.usefixtures("clara_paged")
def test_after_the_last_attempt_the_delivery_is_marked_failed(alice, clara, push_service, settings):
    settings.NOTIFY = {**settings.NOTIFY, "MAX_ATTEMPTS": 2}
    push_service.status = 500
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sos(alice)
        clock.shift(5)
        notify.notifications_sweep()
        clock.shift(3600)
        assert notify.notifications_sweep() == 0
    assert Notification.objects.get().status == DeliveryStatus.FAILED
    assert push_service.requests == 2


@pytest.mark.usefixtures("clara_paged")
def test_the_row_is_written_with_the_alert_and_the_sweeper_sends_it_when_the_queue_was_down(
    alice, clara, push_service, monkeypatch
):
    import healthhub.dispatch

    def broker_down(*args):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(healthhub.dispatch, "enqueue", broker_down)
    alert = sos(alice)
    assert Alert.objects.filter(pk=alert.pk).exists()
    assert Notification.objects.get().status == DeliveryStatus.PENDING
    assert push_service.received == []
    monkeypatch.undo()
    assert notify.notifications_sweep() == 1
    assert push_service.event.wait(5)
    assert Notification.objects.get().status == DeliveryStatus.SENT


@pytest.mark.usefixtures("clara_paged")
def test_a_claimed_delivery_is_not_sent_twice_and_a_dead_senders_claim_expires(alice, clara, push_service):
    push_service.status = 503
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sos(alice)
        row = Notification.objects.get()
        clock.shift(5)
        push_service.status = 201
        # Another worker claimed it and died before it sent anything.
        now = timezone.now()
        Notification.objects.filter(pk=row.pk).update(status="sending", claimed_until=now + timedelta(seconds=60))
        assert notify.notification_send(notification_id=row.pk) == ""
        assert notify.notifications_sweep() == 0
        clock.shift(61)
        assert notify.notifications_sweep() == 1
        assert notify.notification_send(notification_id=row.pk) == ""  # a duplicated task finds it sent
    assert len(push_service.received) == 1


def test_channels_follow_the_users_severities(alice, clara, push_service, settings):
    on_call(alice.site, clara)
    clara.email = "clara@example.test"
    clara.save()
    prefs(clara, push=["critical"], email=["urgent"], sms=["urgent", "critical"])
    subscribe(push_service, clara)
    urgent(alice)
    assert sorted(Notification.objects.values_list("channel", flat=True)) == ["email", "sms"]
    [email] = mail.outbox
    assert email.subject == "Urgent alert at Plant A: open healthhub"
    assert "hypoxemia" not in email.body.lower() and "oxygen" not in email.body.lower()
    assert push_service.received == []


def test_quiet_hours_hold_back_all_but_critical_alerts(alice, bob, clara, push_service):
    on_call(alice.site, clara)
    notify.preference_save(
        user=clara, channels={"push": ["warning", "urgent", "critical"]}, phone="",
        quiet_start=datetime.strptime("22:00", "%H:%M").time(), quiet_end=datetime.strptime("07:00", "%H:%M").time(),
        language="en", time_zone="Asia/Seoul",
    )  # fmt: skip
    subscribe(push_service, clara)
    night = datetime(2026, 11, 24, 23, 30, tzinfo=SEOUL)
    with time_machine.travel(night, tick=False):
        on_call(alice.site, clara)
        urgent(alice)
        sos(bob)
    rows = {n.alert.kind: n.status for n in Notification.objects.select_related("alert")}
    assert rows == {"hypoxemia": DeliveryStatus.HELD, "sos": DeliveryStatus.SENT}
    assert len(push_service.received) == 1


def test_quiet_hours_within_one_day_and_across_midnight():
    from alerts.models import NotificationPreference
    from alerts.notify.selectors import in_quiet_hours

    at = lambda h, m=0: datetime(2026, 11, 24, h, m, tzinfo=SEOUL)  # noqa: E731
    t = lambda text: datetime.strptime(text, "%H:%M").time()  # noqa: E731
    night = NotificationPreference(quiet_start=t("22:00"), quiet_end=t("07:00"), time_zone="Asia/Seoul")
    assert [in_quiet_hours(night, at(h)) for h in (21, 22, 23, 0, 6)] == [False, True, True, True, True]
    assert not in_quiet_hours(night, at(7))
    lunch = NotificationPreference(quiet_start=t("12:00"), quiet_end=t("13:00"), time_zone="Asia/Seoul")
    assert [in_quiet_hours(lunch, at(h, m)) for h, m in ((11, 59), (12, 0), (12, 59), (13, 0))] == [
        False, True, True, False,
    ]  # fmt: skip
    assert not in_quiet_hours(NotificationPreference(), at(3))


def test_critical_alerts_must_keep_a_channel(clara):
    with pytest.raises(notify.NotifyError):
        notify.preference_save(
            user=clara, channels={"push": ["warning"], "email": ["urgent"]}, phone="", quiet_start=None,
            quiet_end=None, language="en", time_zone="Asia/Seoul",
        )  # fmt: skip


def test_the_test_button_reaches_each_device(clara, push_service):
    subscribe(push_service, clara, "phone")
    subscribe(push_service, clara, "laptop")
    assert notify.push_test(user=clara) == (2, 2)
    assert sorted(m.path for m in push_service.received) == ["/push/clara-laptop", "/push/clara-phone"]


def test_without_vapid_keys_push_is_off_and_nothing_is_owed(alice, clara, settings):
    settings.NOTIFY = {**settings.NOTIFY, "VAPID_PRIVATE_KEY": "", "VAPID_PUBLIC_KEY": ""}
    on_call(alice.site, clara)
    PushSubscription.objects.create(user=clara, name="phone", endpoint="http://127.0.0.1:9/x", p256dh="x", auth="y")
    sos(alice)
    assert not Notification.objects.filter(channel="push").exists()


# --- SMS / KakaoTalk ------------------------------------------------------------


class FakeSolapi:
    """A local stand-in for the provider's HTTP API."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.status = 200
        self.requests: list[tuple[str, dict, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, dict(self.headers), body))
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"groupId": "G1"}' if fake.status == 200 else b'{"errorCode": "ValidationError"}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def signature_holds(self, authorization: str) -> bool:
        scheme, _, params = authorization.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        expected = hmac.new(self.secret.encode(), (fields["date"] + fields["salt"]).encode(), hashlib.sha256)
        return scheme == "HMAC-SHA256" and hmac.compare_digest(expected.hexdigest(), fields["signature"])


@pytest.fixture
def solapi(settings):
    fake = FakeSolapi("s3cret")
    settings.NOTIFY = {
        **settings.NOTIFY, "SMS_BACKEND": "solapi", "SOLAPI_URL": fake.url, "SOLAPI_API_KEY": "KEY1",
        "SOLAPI_API_SECRET": "s3cret", "SMS_SENDER": "0212345678",
    }  # fmt: skip
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_sms_goes_to_the_provider_signed(alice, clara, solapi):
    on_call(alice.site, clara)
    prefs(clara, push=[], sms=["critical"])
    sos(alice)
    [(path, headers, body)] = solapi.requests
    assert path == "/messages/v4/send"
    assert solapi.signature_holds(headers["Authorization"])
    assert "apiKey=KEY1" in headers["Authorization"]
    assert body == {
        "message": {
            "to": "01012345678",
            "from": "0212345678",
            "text": "[healthhub] Critical alert at Plant A: open healthhub http://localhost:8000/",
        }
    }
    assert Notification.objects.get().status == DeliveryStatus.SENT


def test_kakaotalk_is_asked_for_when_a_channel_and_template_are_set(solapi):
    gateway = SolapiGateway(
        base_url=solapi.url, api_key="KEY1", api_secret="s3cret", sender="0212345678", kakao_pf_id="PF1",
        kakao_template_id="TPL1",
    )  # fmt: skip
    gateway.send("01012345678", "hello")
    body = solapi.requests[0][2]["message"]
    assert body["kakaoOptions"] == {"pfId": "PF1", "templateId": "TPL1", "variables": {"#{message}": "hello"}}


def test_a_provider_refusal_is_an_error_that_is_retried(alice, clara, solapi):
    solapi.status = 400
    with pytest.raises(SmsError, match="400"):
        SolapiGateway(base_url=solapi.url, api_key="K", api_secret="s3cret", sender="1").send("010", "x")
    on_call(alice.site, clara)
    prefs(clara, push=[], sms=["critical"])
    sos(alice)
    assert Notification.objects.get().status == DeliveryStatus.PENDING


def test_an_unreachable_provider_is_an_error(settings):
    with pytest.raises(SmsError, match="unreachable"):
        SolapiGateway(base_url="http://127.0.0.1:9", api_key="K", api_secret="s", sender="1", timeout=2).send("0", "x")


def test_the_logging_backend_logs_without_the_full_number(caplog):
    with caplog.at_level(logging.INFO, logger="alerts.notify.sms"):
        LoggingGateway().send("01012345678", "Critical alert at Plant A: open healthhub")
    assert "…5678" in caplog.text and "01012345678" not in caplog.text


def test_clinicians_of_another_site_are_never_notified(alice, clara, carl, push_service):
    on_call(alice.site, clara)
    staff("cleo", "clinician", alice.site)
    prefs(carl)
    subscribe(push_service, carl)
    sos(alice)
    assert not Notification.objects.filter(user=carl).exists()


def test_the_key_command_prints_a_pair_that_signs_and_verifies(settings, capsys):
    from django.core.management import call_command

    from tests.alerts.push_receiver import PushService

    call_command("vapid_keys")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    settings.NOTIFY = {**settings.NOTIFY, "VAPID_PRIVATE_KEY": lines["VAPID_PRIVATE_KEY"],
                       "VAPID_PUBLIC_KEY": lines["VAPID_PUBLIC_KEY"]}  # fmt: skip
    service = PushService(lines["VAPID_PUBLIC_KEY"])
    try:
        endpoint, browser = service.subscribe("x")
        from alerts.notify.push import PushTarget, push_send

        push_send(PushTarget(endpoint, browser.p256dh, browser.auth), {"title": "t"})
        assert service.received[0].payload == {"title": "t"}
    finally:
        service.close()


class _WorkerLost(BaseException):
    """The Celery worker killed in the middle of a send."""


@pytest.mark.usefixtures("clara_paged")
def test_a_push_whose_sender_was_killed_mid_send_goes_out_within_twenty_seconds(
    alice, clara, push_service, monkeypatch
):
    # An SOS push must not wait a minute because the worker sending it died.
    from alerts.notify import services as notify_services

    real_deliver = notify_services._deliver

    def killed(row):
        raise _WorkerLost

    with time_machine.travel(timezone.now(), tick=False) as clock:
        monkeypatch.setattr(notify_services, "_deliver", killed)
        with pytest.raises(_WorkerLost):
            sos(alice)  # the immediate send claims the row, then its worker dies
        row = Notification.objects.get()
        assert row.status == "sending"
        monkeypatch.setattr(notify_services, "_deliver", real_deliver)
        clock.shift(19)
        assert notify.notifications_sweep() == 0  # the sender might still be at work
        clock.shift(2)
        assert notify.notifications_sweep() == 1
    assert len(push_service.received) == 1
