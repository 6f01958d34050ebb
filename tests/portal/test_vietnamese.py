"""The whole worker portal in Vietnamese (and Korean): every page a worker
reaches shows no English string of the catalogue, so a translation that fails to apply
(a blocktranslate whose translation does not format, say) is caught, not
only a missing one."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from consultations import services as consultations
from portal.guidance import GUIDES
from tests.accounts.test_languages import sign_in
from tests.test_i18n import po_entries
from workers.services import worker_language_set

LOCALE = Path(settings.BASE_DIR) / "locale"


def english_phrases(language: str) -> list[str]:
    """Source strings that must not show on a Vietnamese page: those with a
    space that the Vietnamese catalogue translates differently (not "SOS")."""
    return [
        msgid.replace('\\"', '"')
        for msgid, msgstr in po_entries(LOCALE / language / "LC_MESSAGES" / "django.po")
        if " " in msgid and msgid != msgstr and "%" not in msgid and len(msgid) >= 12
    ]


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def vietnamese_alice(alice, clara):
    worker_language_set(worker=alice, language="vi")
    consultation = consultations.consultation_request(worker=alice, reason="Chóng mặt", urgency="soon")
    consultations.consultation_take(consultation_id=consultation.pk, clinician=clara)
    return alice, consultation


@pytest.mark.parametrize("language", ["vi", "ko"])
def test_every_portal_page_is_in_the_workers_language(client, vietnamese_alice, language):
    alice, consultation = vietnamese_alice
    worker_language_set(worker=alice, language=language)
    sign_in(client, alice.user)  # the sign-in brings the worker's language
    urls = [
        reverse(name)
        for name in (
            "portal:today",
            "portal:checkin",
            "portal:privacy",
            "portal:data",
            "portal:appointments",
            "portal:appointment-book",
            "portal:guides",
            "portal:offline",
            "consultations:list",
            "consultations:new",
        )
    ]
    urls += [reverse("portal:guide", args=[guide.slug]) for guide in GUIDES]
    urls.append(reverse("consultations:detail", args=[consultation.pk]))
    phrases = english_phrases(language)
    assert len(phrases) > 300
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == language, url
        text = visible_text(response.content.decode())
        assert [phrase for phrase in phrases if phrase in text] == [], url


def test_guidance_numbers_and_units_read_in_vietnamese(client, vietnamese_alice):
    alice, _ = vietnamese_alice
    sign_in(client, alice.user)
    low_oxygen = visible_text(client.get(reverse("portal:guide", args=["low-oxygen"])).content.decode())
    assert "Oxy máu (SpO2) thường là 95 đến 100%." in low_oxygen
    fever = visible_text(client.get(reverse("portal:guide", args=["fever"])).content.decode())
    assert "37,5 °C" in fever


def test_the_language_switch_names_each_language_in_its_own_words(client, vietnamese_alice):
    alice, _ = vietnamese_alice
    sign_in(client, alice.user)
    page = client.get(reverse("portal:today")).content.decode()
    for code, name in settings.LANGUAGES:
        assert f'<option value="{code}" lang="{code}"' in page and f">{name}</option>" in page
