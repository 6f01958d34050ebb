"""A clinician attaches a guidance page (alerts.guidance) to a
recommendation; the worker sees its link with the recommendation."""

from __future__ import annotations

import pytest

from consultations import services
from consultations.models import Recommendation
from tests.conftest import api_as

BASE = "/api/v1/consultations/"


def test_the_service_keeps_a_known_guide_and_refuses_an_unknown_one(active, clara, sent):
    kept = services.recommendation_add(consultation_id=active.pk, author=clara, body="Rest in the shade", guide="heat")
    assert kept.guide == "heat" and kept.guide_page.slug == "heat"
    with pytest.raises(services.ConsultationError):
        services.recommendation_add(consultation_id=active.pk, author=clara, body="Read this", guide="no-such-page")
    assert Recommendation.objects.count() == 1


def test_the_socket_frame_names_the_guide_and_its_address(active, clara, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.recommendation_add(consultation_id=active.pk, author=clara, body="Stay home", guide="fever")
    guide = sent[0][1]["recommendation"]["guide"]
    assert guide["slug"] == "fever" and guide["url"] == "/me/guide/fever/"


def test_the_form_offers_every_guide_and_the_worker_sees_the_link(client, active, alice, clara):
    client.force_login(clara)
    form_page = client.get(f"/consultations/{active.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<select id="recommendation-guide" name="guide">' in form_page
    assert '<option value="low-oxygen">What a low blood oxygen reading means</option>' in form_page
    client.post(f"/consultations/{active.pk}/recommendations/", {"body": "Breathe slowly", "guide": "low-oxygen"})
    assert Recommendation.objects.get().guide == "low-oxygen"
    client.force_login(alice.user)
    html = client.get(f"/consultations/{active.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Breathe slowly" in html
    assert '<a href="/me/guide/low-oxygen/">Guidance to read: What a low blood oxygen reading means</a>' in html
    assert 'name="guide"' not in html  # the worker gets no form


def test_the_form_refuses_a_guide_that_is_not_in_the_registry(client, active, clara):
    client.force_login(clara)
    response = client.post(
        f"/consultations/{active.pk}/recommendations/", {"body": "Read it", "guide": "../../etc"}, follow=True
    )
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not Recommendation.objects.exists()


def test_a_recommendation_without_a_guide_still_works(client, active, clara):
    client.force_login(clara)
    client.post(f"/consultations/{active.pk}/recommendations/", {"body": "Rest"})
    assert Recommendation.objects.get().guide == ""


def test_the_api_takes_a_guide_and_names_a_bad_one(active, clara):
    client = api_as(clara)
    bad = client.post(f"{BASE}{active.pk}/recommendations/", {"body": "x", "guide": "nope"}, format="json")
    assert bad.status_code == 400 and "guide" in bad.json()
    made = client.post(
        f"{BASE}{active.pk}/recommendations/", {"body": "Wash hands", "guide": "outbreak"}, format="json"
    )
    assert made.status_code == 201 and made.json()["guide"]["slug"] == "outbreak"
    plain = client.post(f"{BASE}{active.pk}/recommendations/", {"body": "Rest"}, format="json")
    assert plain.status_code == 201 and plain.json()["guide"] is None


def test_the_worker_can_not_attach_guides(active, alice):
    response = api_as(alice.user).post(
        f"{BASE}{active.pk}/recommendations/", {"body": "x", "guide": "heat"}, format="json"
    )
    assert response.status_code == 403
    assert not Recommendation.objects.exists()
