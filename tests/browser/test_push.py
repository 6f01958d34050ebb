"""The push service worker in headless Chromium: the notifications page
registers it, and a push message (delivered through the DevTools protocol,
since Chromium's own push service is out of reach here) is shown with the
server's lock-screen text and nothing more."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.conftest import DESKTOP, WAIT_MS, off_the_loop, sign_in
from tests.factories import staff

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clara(site_a):
    """The clinician, made off Playwright's event loop: saving a user closes
    their sockets through the channel layer, which refuses a running loop."""
    return off_the_loop(staff, "clara", "clinician", site_a)


def test_the_service_worker_shows_the_pushed_text(browser, server, clara):
    context = browser.new_context(
        base_url=server.http_url, viewport=DESKTOP, locale="en-US", timezone_id="Asia/Seoul", service_workers="allow"
    )
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["notifications"], origin=server.http_url)
    try:
        page = context.new_page()
        sign_in(page, "clara")
        page.goto("/notifications/")
        sw = page.locator("#push").get_attribute("data-sw")
        scope = page.locator("#push").get_attribute("data-scope")
        cdp = context.new_cdp_session(page)
        registrations: dict[str, str] = {}
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.update({r["scopeURL"]: r["registrationId"] for r in event["registrations"]}),
        )
        cdp.send("ServiceWorker.enable")
        page.evaluate(
            """async ([sw, scope]) => {
                const registration = await navigator.serviceWorker.register(sw, { scope });
                const worker = registration.installing || registration.waiting || registration.active;
                if (worker.state !== "activated") {
                    await new Promise((done) => worker.addEventListener("statechange", () => {
                        if (worker.state === "activated") done();
                    }));
                }
            }""",
            [sw, scope],
        )
        deadline = time.monotonic() + WAIT_MS / 1000
        while server.http_url + scope not in registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        payload = {
            "title": "healthhub",
            "body": "Critical alert at Plant A: open healthhub",
            "url": "/",
            "tag": "alert-7",
        }
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": server.http_url,
                "registrationId": registrations[server.http_url + scope],
                "data": json.dumps(payload),
            },
        )
        shown = []
        while not shown and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            shown = page.evaluate(
                """async (scope) => {
                    const registration = await navigator.serviceWorker.getRegistration(scope);
                    const notes = await registration.getNotifications();
                    return notes.map((n) => [n.title, n.body, n.tag, n.data.url]);
                }""",
                scope,
            )
        assert shown == [["healthhub", "Critical alert at Plant A: open healthhub", "alert-7", "/"]]
    finally:
        context.close()


# Chromium's push service is out of reach here: PushManager.subscribe is
# replaced by one that answers as a browser would (a subscription with an
# endpoint and keys), so the page's own script runs for real up to the server.
FAKE_PUSH_MANAGER = """
PushManager.prototype.getSubscription = async function () { return null; };
PushManager.prototype.subscribe = async function (options) {
  sessionStorage.setItem("applicationServerKey", new Uint8Array(options.applicationServerKey).length);
  return { toJSON: () => ({ endpoint: "https://push.example.test/sub/1", keys: { p256dh: "%s", auth: "%s" } }) };
};
"""


def test_the_subscribe_button_saves_this_device_under_its_name(browser, server, clara):
    from tests.alerts.push_receiver import Browser

    keys = Browser()
    context = browser.new_context(
        base_url=server.http_url, viewport=DESKTOP, locale="en-US", timezone_id="Asia/Seoul", service_workers="allow"
    )
    context.set_default_timeout(WAIT_MS)
    context.grant_permissions(["notifications"], origin=server.http_url)
    context.add_init_script(FAKE_PUSH_MANAGER % (keys.p256dh, keys.auth))
    try:
        page = context.new_page()
        sign_in(page, "clara")
        page.goto("/notifications/")
        page.locator("#push-name").fill("desk PC")
        with page.expect_navigation():
            page.locator("#push-subscribe").click()
        # The page gave the server's public key, decoded: an uncompressed P-256 point.
        assert page.evaluate("sessionStorage.getItem('applicationServerKey')") == "65"
        assert page.locator("#push table input[name=name]").input_value() == "desk PC"
    finally:
        context.close()
    from alerts.models import PushSubscription

    sub = PushSubscription.objects.get()
    assert (sub.user_id, sub.name, sub.endpoint, sub.p256dh) == (
        clara.pk,
        "desk PC",
        "https://push.example.test/sub/1",
        keys.p256dh,
    )
