"""Guidance pages: one for every kind of alert a worker can get, readable
without signing in (nothing personal in them) and kept by the service worker
for offline reading."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from alerts.models import AlertKind
from portal.guidance import GUIDES, guides_for_kinds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", AlertKind.values)
def test_every_alert_kind_has_guidance(kind):
    assert guides_for_kinds({kind}), f"no guidance page explains {kind}"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda g: g.slug)
@pytest.mark.parametrize("language", ["ko", "en"])
def test_each_guide_renders_in_each_language(client, guide, language):
    response = client.get(reverse("portal:guide", args=[guide.slug]), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    text = re.sub(r"<[^>]+>", " ", response.content.decode())
    assert str(guide.title) not in ("",)
    if language == "ko":
        # the body is Korean: more Hangul syllables than Latin letters
        assert len(re.findall(r"[가-힣]", text)) > len(re.findall(r"[A-Za-z]", text)) / 2


def test_an_unknown_guide_is_404(client):
    assert client.get("/me/guide/nothing-here/").status_code == 404


def test_the_service_worker_keeps_the_guides(client):
    body = client.get(reverse("portal:service-worker")).content.decode()
    config = json.loads(re.search(r"const CONFIG = (\{.*?\});", body).group(1))
    assert reverse("portal:guides") in config["guides"]
    assert {reverse("portal:guide", args=[g.slug]) for g in GUIDES} <= set(config["guides"])
