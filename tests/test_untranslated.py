"""Korean pages show no English: every page of every role, rendered in
Korean, has no visible text (or placeholder, label, title) that is an
English msgid of the catalogue. The browser walk (tests/browser/test_walk.py)
checks the same on the live pages, after their scripts ran."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations import services as consultations
from tests.catalogue import english_msgids, visible_texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(alice, bob, clara, hana, adam, alice_device):
    alert = alert_apply(
        worker_id=alice.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=timezone.now()
    )
    consultation = consultations.consultation_request(worker=alice, reason="머리가 아파요", urgency="soon")
    consultations.consultation_take(consultation_id=consultation.pk, clinician=clara)
    from_alert, _ = consultations.consultation_start_from_alert(alert_id=alert.pk, clinician=clara)
    adam.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "add_worker",
                "change_worker",
                "view_worker",
                "view_department",
                "view_site",
                "view_device",
                "change_device",
                "add_device",
            ]
        )
    )
    return {"alice": alice, "consultation": consultation, "from_alert": from_alert}


def pages(scene) -> dict[str, list[str]]:
    alice, consultation, from_alert = scene["alice"], scene["consultation"], scene["from_alert"]
    return {
        "": ["/accounts/login/", "/accounts/first-login/"],
        "alice": [
            "/me/",
            "/me/checkin/",
            "/me/privacy/",
            "/me/data/",
            "/consultations/",
            "/consultations/new/",
            "/me/appointments/",
            "/me/guide/",
            f"/consultations/{consultation.pk}/",
            f"/consultations/{from_alert.pk}/",
        ],
        "clara": [
            "/desk/",
            f"/workers/{alice.pk}/",
            f"/desk/sites/{alice.site_id}/",
            "/desk/appointments/",
            "/consultations/",
            f"/consultations/{consultation.pk}/",
            f"/consultations/{from_alert.pk}/",
        ],
        "hana": ["/insights/"],
        "adam": [
            "/admin/",
            "/admin/workers/worker/",
            "/admin/workers/worker/add/",
            "/admin/workers/worker/import/",
            f"/admin/workers/worker/{alice.pk}/change/",
            "/admin/workers/consent/",
            "/admin/workers/accesslog/",
            "/admin/devices/device/",
            "/no-such-page/",
        ],
    }


def test_korean_pages_show_no_english_from_the_catalogue(scene, django_user_model):
    english = english_msgids()
    assert len(english) > 300  # the catalogue was read
    slips: dict[str, list[str]] = {}
    rendered = 0
    for username, paths in pages(scene).items():
        client = Client()
        client.cookies["django_language"] = "ko"
        if username:
            client.force_login(django_user_model.objects.get(username=username))
        for path in paths:
            response = client.get(path)
            assert response.status_code == (404 if path == "/no-such-page/" else 200), (username, path)
            rendered += 1
            found = sorted({text for text in visible_texts(response.content.decode()) if text in english})
            if found:
                slips[f"{username or 'anonymous'} {path}"] = found
    assert rendered == 29
    assert slips == {}


def test_the_check_sees_an_english_text_when_there_is_one():
    """The test above can fail: an English msgid in a page is found."""
    english = english_msgids()
    assert "Log in" in english
    assert "Log in" in visible_texts('<main><button type="submit">Log in</button><script>"Log out"</script></main>')
    assert "Log out" not in visible_texts('<script>"Log out"</script>')
