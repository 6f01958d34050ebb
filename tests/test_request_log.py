"""Refusals and error pages as people and operators see them: a 403 is one
log line without a traceback; 403 and 404 pages speak the reader's
language and lead back to their start page; the favicon is served."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.django_db


# A site administrator without the right to add workers opening the import page.
REFUSED = "/admin/workers/worker/import/"


def test_a_refusal_is_logged_as_one_line(client, adam, caplog):
    client.force_login(adam)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(REFUSED)
    assert response.status_code == 403
    refusals = [r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", 0) == 403]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None and "\n" not in refusals[0].getMessage()


@pytest.mark.parametrize(
    ("language", "title", "back"),
    [("ko", "권한이 없습니다", "내 첫 화면으로"), ("en", "Not allowed", "Go to my start page")],
)
def test_the_403_page_is_localised_with_a_way_back(client, adam, language, title, back):
    client.force_login(adam)
    client.cookies["django_language"] = language
    page = client.get(REFUSED).content.decode()
    assert title in page and back in page and 'href="/"' in page


def test_the_404_page_is_localised_with_a_way_back(client, alice):
    client.force_login(alice.user)
    page = client.get("/no-such-page/").content.decode()
    assert "페이지를 찾을 수 없습니다" in page and 'href="/"' in page


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("favicon.svg")


def test_the_500_page_renders_without_a_request_and_speaks_the_language():
    from django.template import loader
    from django.utils import translation

    with translation.override("ko"):
        page = loader.get_template("500.html").render({})
    assert "문제가 생겼습니다" in page and 'href="/"' in page and 'lang="ko"' in page
