"""A worker's language is chosen once and remembered: every page after that
is in it, and signing in on another browser brings it along; staff keep the
browser's choice; the clinician sees the worker's language on the worker
page."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.languages import scope_requested_language, user_language
from workers.models import Worker
from workers.services import UnknownLanguage, worker_language_set


def sign_in(client: Client, user) -> None:
    """Through the login form, as a browser does (the cast's password is "pw")."""
    response = client.post(reverse("account_login"), {"username": user.username, "password": "pw"})
    assert response.status_code == 302, response.content.decode()[:500]


def choose(client: Client, language: str, next_url: str = "/me/") -> None:
    response = client.post(reverse("set_language"), {"language": language, "next": next_url})
    assert response.status_code == 302


def test_vietnamese_is_offered_in_its_own_name(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert '<option value="vi"' in page and "Tiếng Việt" in page


def test_a_workers_choice_is_remembered_and_follows_them_to_another_browser(alice):
    phone = Client(HTTP_ACCEPT_LANGUAGE="ko")
    phone.force_login(alice.user)
    choose(phone, "vi")
    assert Worker.objects.get(pk=alice.pk).language == "vi"

    # Another browser, asking for Korean, without the language cookie.
    other = Client(HTTP_ACCEPT_LANGUAGE="ko")
    sign_in(other, alice.user)
    assert other.cookies[settings.LANGUAGE_COOKIE_NAME].value == "vi"
    page = other.get(reverse("portal:today"))
    assert page["Content-Language"] == "vi"
    assert '<html lang="vi">' in page.content.decode()
    assert "Hôm nay" in page.content.decode()


def test_the_privacy_page_changes_the_language(client, alice):
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'id="language"' in page and 'name="language" value="vi"' in page
    choose(client, "vi", reverse("portal:privacy"))
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "Quyền riêng tư" in page and 'value="vi" checked' in page


def test_an_unknown_language_changes_nothing(client, alice):
    client.force_login(alice.user)
    choose(client, "vi")
    choose(client, "xx")
    assert Worker.objects.get(pk=alice.pk).language == "vi"
    with pytest.raises(UnknownLanguage):
        worker_language_set(worker=alice, language="xx")


def test_staff_keep_the_browsers_choice_and_nothing_is_stored(client, clara):
    client.force_login(clara)
    choose(client, "vi", "/")
    assert "Tiếng Việt" in client.get(reverse("desk:triage")).content.decode()
    fresh = Client(HTTP_ACCEPT_LANGUAGE="en")
    fresh.force_login(clara)
    assert fresh.get(reverse("desk:triage"))["Content-Language"] == "en"


def test_a_worker_enrolled_in_vietnamese_reads_vietnamese_from_the_first_sign_in(alice):
    worker_language_set(worker=alice, language="vi")
    browser = Client(HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")
    sign_in(browser, alice.user)
    assert browser.get(reverse("portal:today"))["Content-Language"] == "vi"


def test_staff_signing_in_get_no_language_cookie(clara):
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    sign_in(browser, clara)
    assert settings.LANGUAGE_COOKIE_NAME not in browser.cookies


def test_the_clinician_sees_the_workers_language(client, alice, clara):
    client.force_login(clara)
    url = reverse("desk:worker-detail", args=[alice.pk])
    assert '언어: <span lang="ko">한국어</span>' in client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    worker_language_set(worker=alice, language="vi")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '언어: <span lang="vi">Tiếng Việt</span>' in page


def test_user_language_puts_the_workers_choice_first(alice, clara):
    assert user_language(alice.user, requested="en") == "ko"  # enrolled in the default
    worker_language_set(worker=alice, language="vi")
    alice.user.refresh_from_db()
    assert user_language(Worker.objects.get(pk=alice.pk).user, requested="en") == "vi"
    assert user_language(clara, requested="vi-VN") == "vi"
    assert user_language(clara, requested="xx") == settings.LANGUAGE_CODE


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"cookies": {settings.LANGUAGE_COOKIE_NAME: "vi"}, "headers": [(b"accept-language", b"en")]}, "vi"),
        ({"cookies": {}, "headers": [(b"accept-language", b"th, vi-VN;q=0.8, en;q=0.5")]}, "vi"),
        ({"cookies": {settings.LANGUAGE_COOKIE_NAME: "xx"}, "headers": []}, ""),
        ({}, ""),
    ],
)
def test_a_sockets_language_comes_from_its_cookie_then_its_header(scope, expected):
    assert scope_requested_language(scope) == expected
