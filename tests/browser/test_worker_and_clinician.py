"""The product's main story in a real browser: a worker on a phone and a
clinician at a desk, each in their own browser context, against a real
server.

The worker signs in and does the daily check-in; the wearable presses SOS
over a real WebSocket; the alert appears live on the worker's portal and
on the clinician's triage queue without a reload; the clinician
acknowledges it and starts a consultation from it; the two chat, each
message appearing live on the other's page.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect
from websockets.sync.client import connect

from alerts.models import Alert, AlertStatus
from consultations.models import Consultation, ConsultationStatus
from tests.browser.conftest import WAIT_MS, new_context, sign_in
from workers.models import CheckIn

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def ko(text: str) -> str:
    """What a Korean user reads for ``text`` (the pages' default language)."""
    with translation.override("ko"):
        return gettext(text)


def press_sos(server, token: str) -> float:
    """The wearable sends one SOS reading over the device protocol; returns
    the wall-clock time (ms) just before the frame left, after the welcome."""
    with connect(server.ws_url(), additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
        welcome = orjson.loads(ws.recv(timeout=10))
        assert welcome["type"] == "welcome"
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        frame = {"type": "readings", "seq": 1, "sent_at": at, "readings": [{"metric": "sos", "value": 1, "at": at}]}
        sent_ms = time.time() * 1000
        ws.send(orjson.dumps(frame).decode())
        ack = orjson.loads(ws.recv(timeout=10))
        assert (ack["type"], ack["accepted"]) == ("ack", 1), ack
        # The wearable hears about its alert too (it vibrates).
        pushed = orjson.loads(ws.recv(timeout=10))
        assert (pushed["type"], pushed["kind"], pushed["severity"]) == ("alert", "sos", "critical"), pushed
    return sent_ms


# Records, in the page, when the first element matching a selector appears
# (Date.now(), the same clock as the test's time.time() on this machine).
WATCH = """selector => {
  window.__seenAt = null;
  const check = () => {
    if (window.__seenAt === null && document.querySelector(selector)) window.__seenAt = Date.now();
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
  check();
}"""


def test_worker_checks_in_sees_sos_live_and_chats_with_the_clinician(
    browser, server, browser_metrics, alice, alice_device, clara
):
    _, token = alice_device
    phone = new_context(browser, server, phone=True)
    desk = new_context(browser, server, phone=False)
    try:
        worker = phone.new_page()
        clinician = desk.new_page()
        errors: list[str] = []
        for page in (worker, clinician):
            page.on("pageerror", lambda error: errors.append(str(error)))

        # 1. The worker signs in on the phone and lands on the portal.
        sign_in(worker, "alice")
        assert worker.url.endswith("/me/")
        expect(worker.locator("#status")).to_be_visible()
        expect(worker.locator("#alert-list li.empty")).to_have_text(ko("No alerts. Take care."))

        # ...does the daily check-in: fatigue, 36.8 °C...
        worker.get_by_role("link", name=ko("Do today's check-in")).click()
        worker.wait_for_url("**/me/checkin/")
        worker.locator("input[name=symptoms][value=fatigue]").check()
        worker.locator("input[name=temperature]").fill("36.8")
        with worker.expect_navigation():
            worker.get_by_role("button", name=ko("Send check-in")).click()
        # ...and sees it confirmed.
        expect(worker.locator(".flash-messages")).to_contain_text(ko("Thank you: today's check-in is saved."))
        expect(worker.locator("#todays-checkin")).to_contain_text("36.8 °C")
        checkin = CheckIn.objects.get(worker=alice)
        assert (checkin.temperature, checkin.fatigue, checkin.fever) == (36.8, True, False)

        # Back on Today, which now says the check-in is done.
        worker.locator(".portal-tabs a[href='/me/']").click()
        worker.wait_for_url("**/me/")
        expect(worker.locator("p.done")).to_contain_text(ko("Today's check-in is done."))

        # The clinician signs in at the desk and lands on the triage queue.
        sign_in(clinician, "clara")
        assert clinician.url.endswith("/desk/")
        expect(clinician.locator("#queue")).to_be_visible()
        expect(clinician.locator("#queue tbody tr[data-id]")).to_have_count(0)

        # Both pages are listening before the wearable sends anything.
        expect(worker.locator("#live-state")).to_contain_text("●")
        expect(clinician.locator("#live.on")).to_be_visible()
        worker.evaluate("window.__notReloaded = true")
        clinician.evaluate("window.__notReloaded = true")
        worker.evaluate(WATCH, "#alert-list li[data-id]")
        clinician.evaluate(WATCH, "#queue tbody tr[data-id]")

        # 2. A critical reading arrives from the wearable.
        sent_ms = press_sos(server, token)
        alert = Alert.objects.get(worker=alice)
        assert (alert.kind, alert.severity, alert.status) == ("sos", "critical", AlertStatus.OPEN)

        # The worker's portal shows it without a reload, with plain words.
        item = worker.locator(f"#alert-list li[data-id='{alert.pk}']")
        expect(item).to_contain_text(ko("SOS"))
        expect(item).to_contain_text(ko("SOS pressed"))
        expect(item.locator(".badge.sev-critical")).to_have_text(ko("Critical"))
        expect(worker.locator("#status")).not_to_have_attribute("data-tone", "ok")
        assert worker.evaluate("window.__notReloaded") is True

        # So does the clinician's queue, with the critical cue.
        row = clinician.locator(f"#queue tbody tr[data-id='{alert.pk}']")
        expect(row).to_contain_text(ko("SOS pressed"))
        expect(row).to_contain_text(alice.employee_number)
        expect(clinician.locator("#critical-banner")).to_be_visible()
        expect(clinician.locator("#critical-count")).to_have_text("1")
        assert clinician.evaluate("window.__notReloaded") is True

        worker_ms = worker.evaluate("window.__seenAt") - sent_ms
        desk_ms = clinician.evaluate("window.__seenAt") - sent_ms
        browser_metrics.live_ms["SOS sent -> alert on the worker's portal"] = worker_ms
        browser_metrics.live_ms["SOS sent -> alert on the clinician's triage queue"] = desk_ms
        assert 0 < worker_ms < WAIT_MS and 0 < desk_ms < WAIT_MS

        # 3. The clinician acknowledges it with the button in the queue...
        row.get_by_role("button", name=ko("Acknowledge")).click()
        expect(row).to_have_attribute("data-status", "acknowledged")
        expect(row.get_by_role("button", name=ko("Acknowledge"))).to_have_count(0)
        expect(clinician.locator("#critical-banner")).to_be_hidden()
        # ...which the worker sees live too.
        expect(item).to_contain_text(ko("Acknowledged"))
        alert.refresh_from_db()
        assert (alert.status, alert.acknowledged_by_id) == (AlertStatus.ACKNOWLEDGED, clara.pk)

        # ...and starts a consultation from the alert.
        with clinician.expect_navigation():
            row.get_by_role("button", name=ko("Start consultation")).click()
        consultation = Consultation.objects.get(alert=alert)
        assert (consultation.status, consultation.clinician_id) == (ConsultationStatus.ACTIVE, clara.pk)
        assert clinician.url.endswith(f"/consultations/{consultation.pk}/")

        # The worker finds it under Consultations and opens it.
        worker.locator(".portal-tabs").get_by_role("link", name=ko("Consultations"), exact=True).click()
        worker.wait_for_url("**/consultations/")
        worker.locator(f"#consultations li[data-id='{consultation.pk}'] a").click()
        worker.wait_for_url(f"**/consultations/{consultation.pk}/")
        for page in (worker, clinician):
            expect(page.locator("#chat-live")).to_have_text(ko("Live"))

        # They chat: what one types appears live on the other's page.
        chat_ms = {}
        for sender, receiver, side, text in (
            (clinician, worker, "clinician", "괜찮으세요? 지금 어디 계세요?"),
            (worker, clinician, "worker", "조립 라인 옆에 앉아 있어요. 어지러워요."),
            (clinician, worker, "clinician", "움직이지 말고 기다리세요. 보건실에서 가고 있어요."),
        ):
            sender.locator("#chat-body").fill(text)
            started = time.monotonic()
            sender.locator("#chat-body").press("Enter")
            received = receiver.locator(f"#chat-log li.msg.from-{side} .body", has_text=text)
            expect(received).to_be_visible()
            chat_ms[side] = (time.monotonic() - started) * 1000
            expect(sender.locator(f"#chat-log li.msg.from-{side}:not(.pending) .body", has_text=text)).to_be_visible()
        browser_metrics.live_ms["chat message -> shown to the other side (upper bound)"] = max(chat_ms.values())

        # The clinician sees that the worker has read the last message.
        last = clinician.locator("#chat-log li.msg.from-clinician").last
        expect(last.locator("[data-role=mark]")).to_have_text(ko("Read"))
        assert consultation.messages.count() == 3
        assert not errors, errors
    finally:
        phone.close()
        desk.close()


def test_worker_asks_for_a_consultation_and_the_clinician_takes_it(browser, server, alice, clara):
    phone = new_context(browser, server, phone=True)
    desk = new_context(browser, server, phone=False)
    try:
        worker = phone.new_page()
        clinician = desk.new_page()

        sign_in(clinician, "clara")
        clinician.goto("/consultations/")
        expect(clinician.locator("#consultations tr.empty")).to_be_visible()
        expect(clinician.locator("#consultations-live")).to_have_text(ko("Live"))

        sign_in(worker, "alice")
        worker.goto("/consultations/")
        worker.get_by_role("link", name=ko("Ask for a consultation")).click()
        worker.wait_for_url("**/consultations/new/")
        worker.locator("textarea[name=reason]").fill("점심 이후로 계속 두통이 있어요.")
        worker.locator("input[name=urgency][value=soon]").check()
        with worker.expect_navigation():
            worker.get_by_role("button", name=ko("Send request")).click()
        consultation = Consultation.objects.get(worker=alice)
        assert consultation.status == ConsultationStatus.REQUESTED
        expect(worker.locator("#consultation-clinician")).to_have_text(ko("Waiting for a clinician"))
        expect(worker.locator("#chat-live")).to_have_text(ko("Live"))

        # The request reaches the clinician's list without a reload.
        row = clinician.locator(f"#consultations tr[data-id='{consultation.pk}']")
        expect(row).to_contain_text("점심 이후로 계속 두통이 있어요.")
        row.get_by_role("link").click()
        with clinician.expect_navigation():
            clinician.get_by_role("button", name=ko("Take this consultation")).click()

        # The worker's page shows who took it, live.
        expect(worker.locator("#consultation-status")).to_have_text(ko("In progress"))
        expect(worker.locator("#consultation-clinician")).not_to_have_text(ko("Waiting for a clinician"))

        worker.locator("#chat-body").fill("약을 먹어도 될까요?")
        worker.get_by_role("button", name=ko("Send")).click()
        expect(clinician.locator("#chat-log li.msg.from-worker .body")).to_have_text("약을 먹어도 될까요?")
    finally:
        phone.close()
        desk.close()
