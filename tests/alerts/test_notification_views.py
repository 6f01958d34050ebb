"""The notification settings page: devices (subscribe, rename, remove,
test) and channels per severity with quiet hours, for staff and workers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.models import NotificationPreference, PushSubscription
from alerts.notify import services as notify
from tests.alerts.push_receiver import Browser
from tests.conftest import api_as

pytestmark = pytest.mark.django_db
PAGE = "/notifications/"


def valid_subscription(endpoint="https://push.example.test/abc", name="work phone"):
    browser = Browser()
    return {"name": name, "endpoint": endpoint, "p256dh": browser.p256dh, "auth": browser.auth}


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(PAGE).status_code == 302


def test_clinician_page_registers_the_push_worker_with_the_public_key(client, clara, vapid):
    client.force_login(clara)
    page = client.get(PAGE).content.decode()
    assert f'data-key="{vapid}"' in page
    assert 'data-sw="/static/js/push_sw.js" data-scope="/static/js/"' in page
    assert '<script src="/static/js/notifications.js" defer></script>' in page
    assert "<script>" not in page and "onclick" not in page  # no inline script


def test_a_worker_subscribes_through_the_installed_portals_service_worker(client, alice, vapid):
    client.force_login(alice.user)
    page = client.get(PAGE).content.decode()
    assert 'data-sw="/me/sw.js" data-scope="/me/"' in page
    service_worker = client.get("/me/sw.js").content.decode()
    assert "importScripts(CONFIG.push)" in service_worker and '"push": "/static/js/push_sw.js"' in service_worker


def test_without_keys_the_page_says_push_is_not_set_up(client, clara, settings):
    settings.NOTIFY = {**settings.NOTIFY, "VAPID_PRIVATE_KEY": "", "VAPID_PUBLIC_KEY": ""}
    client.force_login(clara)
    page = client.get(PAGE).content.decode()
    assert 'data-key=""' in page and 'push-subscribe" disabled' in page


def test_subscribing_saves_the_device_under_its_name(clara):
    response = api_as(clara).post("/api/v1/push-subscriptions/", valid_subscription(), format="json")
    assert response.status_code == 201
    sub = PushSubscription.objects.get()
    assert (sub.user, sub.name, sub.endpoint) == (clara, "work phone", "https://push.example.test/abc")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"p256dh": "AAAA"}, "p256dh"),
        ({"auth": "not*base64"}, "auth"),
        ({"endpoint": "http://push.example.test/x"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(clara, change, field):
    response = api_as(clara).post("/api/v1/push-subscriptions/", {**valid_subscription(), **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not PushSubscription.objects.exists()


def test_anonymous_cannot_subscribe():
    assert api_as(None).post("/api/v1/push-subscriptions/", valid_subscription(), format="json").status_code == 403


def test_rename_and_remove_only_ones_own_devices(client, clara, carl):
    sub = notify.subscription_save(user=clara, **valid_subscription())
    client.force_login(carl)
    assert client.post(reverse("alerts:device-rename", args=[sub.pk]), {"name": "mine"}).status_code == 404
    assert client.post(reverse("alerts:device-remove", args=[sub.pk])).status_code == 404
    client.force_login(clara)
    client.post(reverse("alerts:device-rename", args=[sub.pk]), {"name": "desk PC"})
    assert PushSubscription.objects.get().name == "desk PC"
    client.post(reverse("alerts:device-remove", args=[sub.pk]))
    assert not PushSubscription.objects.exists()


def test_the_test_button_reports_what_reached_the_devices(client, clara, push_service):
    endpoint, browser = push_service.subscribe("clara-phone")
    notify.subscription_save(user=clara, name="phone", endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)
    client.force_login(clara)
    page = client.post(reverse("alerts:device-test"), follow=True).content.decode()
    assert len(push_service.received) == 1
    # No preferences saved: notifications speak the site's language, Korean.
    assert push_service.received[0].payload["body"] == "테스트 알림: 이 기기로 알림을 받습니다"
    assert 'class="success"' in page


def test_preferences_are_saved_from_the_form(client, clara):
    client.force_login(clara)
    response = client.post(
        PAGE,
        {"push": ["urgent", "critical"], "sms": ["critical"], "phone": "01012345678", "quiet_start": "22:00",
         "quiet_end": "07:00", "language": "en", "time_zone": "Asia/Seoul"},
    )  # fmt: skip
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=clara)
    assert pref.channels == {"push": ["critical", "urgent"], "email": [], "sms": ["critical"]}
    assert (pref.phone, str(pref.quiet_start), str(pref.quiet_end)) == ("01012345678", "22:00:00", "07:00:00")


@pytest.mark.parametrize(
    "data",
    [
        {"push": ["warning"]},  # critical reaches them by nothing
        {"push": ["critical"], "sms": ["critical"]},  # SMS without a number
        {"push": ["critical"], "quiet_start": "22:00"},  # half of the quiet hours
        {"push": ["critical"], "time_zone": "Mars/Olympus"},
        {"push": ["critical"], "phone": "call me"},
    ],
)
def test_bad_preferences_are_refused(client, clara, data):
    client.force_login(clara)
    response = client.post(PAGE, {"language": "en", "time_zone": "Asia/Seoul", **data})
    assert response.status_code == 400
    assert not NotificationPreference.objects.exists()
