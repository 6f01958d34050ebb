"""Issue 10's items in a real browser: the clinician triages on a phone with
one hand, a worker keeps the tab bar on every page, a video call shows no
black boxes and its Answer button answers, closing a consultation completes
the clinician's own POST, a site administrator enrols a worker who then
signs in with the code from the sheet, and the no-symptoms check-in."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations import services as consultations
from consultations.models import Consultation
from tests.browser.conftest import PHONE, new_context, off_the_loop, sign_in
from workers.models import CheckIn, Worker

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def ko(text: str) -> str:
    with translation.override("ko"):
        return gettext(text)


def raise_alert(worker, kind="sos", severity=Severity.CRITICAL, message="SOS pressed"):
    return off_the_loop(
        alert_apply, worker_id=worker.pk, evaluation=Evaluation.active(kind, severity, message), now=timezone.now()
    )


def active_consultation(alice, clara) -> Consultation:
    def make():
        consultation = consultations.consultation_request(worker=alice, reason="머리가 아파요", urgency="soon")
        consultations.consultation_take(consultation_id=consultation.pk, clinician=clara)
        return consultation

    return off_the_loop(make)


def test_a_clinician_triages_on_a_phone_with_one_hand(browser, server, alice, clara):
    alert = raise_alert(alice)
    context = new_context(browser, server, phone=True)
    try:
        page = context.new_page()
        sign_in(page, "clara")
        page.goto("/desk/")
        card = page.locator(f"#queue tr[data-id='{alert.pk}']")
        expect(card).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        acknowledge = card.locator("[data-action=acknowledge]")
        escalate = card.locator("[data-action=escalate]")
        # The primary action is on the card, as wide as a thumb needs; the others wait behind the menu.
        expect(acknowledge).to_be_visible()
        box = acknowledge.bounding_box()
        assert box["height"] >= 44 and box["y"] + box["height"] <= PHONE["height"]
        expect(escalate).to_be_hidden()
        card.locator("button.more").click()
        expect(escalate).to_be_visible()
        expect(card.locator("button.more")).to_have_attribute("aria-expanded", "true")
        card.locator("button.more").click()
        acknowledge.click()
        expect(card).to_have_attribute("data-status", "acknowledged")
        expect(card.locator("[data-action=resolve]")).to_be_visible()  # now the primary action
    finally:
        context.close()


def test_a_worker_keeps_the_tab_bar_and_is_not_pushed_to_an_authenticator(browser, server, alice, clara):
    consultation = active_consultation(alice, clara)
    context = new_context(browser, server, phone=True)
    try:
        page = context.new_page()
        sign_in(page, "alice")
        for path in ("/consultations/", f"/consultations/{consultation.pk}/"):
            page.goto(path)
            tabs = page.locator("nav.portal-tabs")
            expect(tabs).to_be_visible()
            expect(tabs.locator("a[aria-current=page]")).to_have_text(ko("Consultations"))
            expect(page.locator("header a[href='/accounts/2fa/']")).to_have_count(0)
    finally:
        context.close()


def test_no_symptoms_is_one_tap(browser, server, alice):
    context = new_context(browser, server, phone=True)
    try:
        page = context.new_page()
        sign_in(page, "alice")
        page.goto("/me/checkin/")
        with page.expect_navigation():
            page.locator("#no-symptoms").click()
        checkin = CheckIn.objects.get(worker=alice)
        assert checkin.symptoms == [] and checkin.temperature is None
    finally:
        context.close()


def test_a_video_call_shows_no_black_boxes_and_answer_answers(browser, server, alice, clara):
    consultation = active_consultation(alice, clara)
    path = f"/consultations/{consultation.pk}/"
    phone = new_context(browser, server, phone=True, permissions=["camera", "microphone"])
    desk = new_context(browser, server, phone=False, permissions=["camera", "microphone"])
    try:
        worker, clinician = phone.new_page(), desk.new_page()
        sign_in(worker, "alice")
        sign_in(clinician, "clara")
        worker.goto(path)
        clinician.goto(path)
        expect(worker.locator("#chat-live")).to_have_text(ko("Live"))
        expect(clinician.locator("#chat-live")).to_have_text(ko("Live"))
        for page in (worker, clinician):
            expect(page.locator("#call-accept")).to_be_hidden()
            expect(page.locator("#video")).to_be_hidden()
        clinician.locator("#call-start").click()
        # The caller sees no empty boxes: the other side's video only once it has a picture.
        expect(clinician.locator("#remote-video")).to_be_hidden()
        expect(worker.locator("#call-accept")).to_be_visible()
        worker.locator("#call-accept").click()
        expect(worker.locator("#call-accept")).to_be_hidden()
        expect(clinician.locator("#remote-video")).to_be_visible()
        expect(worker.locator("#remote-video")).to_be_visible()
        worker.locator("#call-hangup").click()
        expect(clinician.locator("#remote-video")).to_be_hidden()
    finally:
        phone.close()
        desk.close()


def test_closing_a_consultation_completes_the_clinicians_own_post(browser, server, alice, clara):
    consultation = active_consultation(alice, clara)
    context = new_context(browser, server, phone=False)
    try:
        page = context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(f"{request.method} {request.url} {request.failure}"))
        sign_in(page, "clara")
        page.goto(f"/consultations/{consultation.pk}/")
        expect(page.locator("#chat-live")).to_have_text(ko("Live"))
        page.locator("input[name=outcome][value=fit_for_work]").check()
        with page.expect_navigation():
            page.get_by_role("button", name=ko("Close consultation")).click()
        page.wait_for_load_state("load")
        page.wait_for_timeout(1000)  # the socket's echo of the close arrives meanwhile
        expect(page.locator("#chat-form")).to_have_count(0)
        assert failed == []
        consultation.refresh_from_db()
        assert (consultation.status, consultation.outcome) == ("closed", "fit_for_work")
    finally:
        context.close()


def test_a_site_admin_enrols_a_worker_who_signs_in_with_the_sheets_code(browser, server, alice, adam):
    from django.contrib.auth.models import Permission

    adam.user_permissions.add(*Permission.objects.filter(codename__in=["add_worker", "change_worker", "view_worker"]))
    admin_context = new_context(browser, server, phone=False)
    phone = new_context(browser, server, phone=True)
    try:
        page = admin_context.new_page()
        sign_in(page, "adam")
        page.goto("/admin/workers/worker/add/")
        page.locator("input[name=employee_number]").fill("E-4242")
        page.locator("input[name=name]").fill("정하늘")
        page.locator("select[name=department]").select_option(str(alice.department_id))
        page.locator("select[name=shift_pattern]").select_option("day")
        page.locator("input[name=birth_year]").fill("1994")
        with page.expect_navigation():
            page.locator("input[type=submit]").click()
        sheet = page.locator("section.sheet")
        expect(sheet).to_have_count(1)
        expect(sheet.locator("svg")).to_be_visible()
        code = sheet.locator(".code").inner_text().strip()
        url = sheet.locator(".url").inner_text().strip()
        assert Worker.objects.filter(employee_number="E-4242").exists()

        worker = phone.new_page()
        worker.goto(url)  # what the QR code opens
        expect(worker.locator("input[name=code]")).to_have_value(code)
        with worker.expect_navigation():
            worker.get_by_role("button", name=ko("Sign in")).click()
        worker.locator("input[name=new_password1]").fill("하늘-비밀번호-2026")
        worker.locator("input[name=new_password2]").fill("하늘-비밀번호-2026")
        with worker.expect_navigation():
            worker.get_by_role("button", name=ko("Save my password")).click()
        worker.wait_for_url("**/me/")
        expect(worker.locator("nav.portal-tabs")).to_be_visible()
    finally:
        admin_context.close()
        phone.close()
