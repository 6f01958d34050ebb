"""The consultation pages and their actions, with the access rules: the
worker and the clinicians of the worker's site; everyone else 404; notes
never on the worker's page."""

from __future__ import annotations

import pytest

from consultations import services
from consultations.models import Clearance, Consultation, Message, Note, Recommendation
from tests.consultations.conftest import NOTE_TEXT
from workers.models import AccessLog

pytestmark = pytest.mark.django_db

OUTSIDERS = ["bob", "charlie", "carl", "hana", "adam"]


def page(client, user, url, **extra):
    client.force_login(user)
    return client.get(url, HTTP_ACCEPT_LANGUAGE="en", **extra)


def test_worker_list_shows_her_consultations_and_the_ask_button(client, requested, bob, alice):
    services.consultation_request(worker=bob, reason="Bob's headache", urgency="routine")
    response = page(client, alice.user, "/consultations/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Dizzy since lunch" in html and "Bob&#x27;s headache" not in html
    assert 'href="/consultations/new/"' in html


def test_clinician_list_shows_her_sites_requests(client, requested, charlie, clara):
    services.consultation_request(worker=charlie, reason="Plant B matter", urgency="routine")
    html = page(client, clara, "/consultations/").content.decode()
    assert "Dizzy since lunch" in html and "Plant B matter" not in html


@pytest.mark.parametrize("who", ["hana", "adam"])
def test_hr_and_site_admin_have_no_consultations_page(client, requested, cast, who):
    response = page(client, cast[who], "/consultations/")
    assert response.status_code == 404
    assert b"Dizzy" not in response.content


def test_nav_link_for_workers_and_clinicians_only(rf, cast):
    from django.template.loader import render_to_string

    for who, shown in (("alice", True), ("clara", True), ("hana", False), ("adam", False)):
        request = rf.get("/")
        request.user = cast[who]
        html = render_to_string("base.html", request=request)
        assert ('href="/consultations/"' in html) is shown, who


def test_worker_asks_for_a_consultation(client, alice):
    client.force_login(alice.user)
    form = client.get("/consultations/new/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="reason"' in form and 'value="urgent"' in form
    response = client.post("/consultations/new/", {"reason": "Cough for three days", "urgency": "soon"})
    consultation = Consultation.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/consultations/{consultation.pk}/"
    assert (consultation.worker, consultation.urgency, consultation.status) == (alice, "soon", "requested")


def test_an_empty_request_is_shown_again_with_an_error(client, alice):
    client.force_login(alice.user)
    response = client.post("/consultations/new/", {"reason": "", "urgency": "soon"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not Consultation.objects.exists()


@pytest.mark.parametrize("who", ["clara", "hana", "adam"])
def test_only_workers_ask_for_consultations(client, cast, who):
    client.force_login(cast[who])
    assert client.get("/consultations/new/").status_code == 404
    assert client.post("/consultations/new/", {"reason": "x", "urgency": "soon"}).status_code == 404
    assert not Consultation.objects.exists()


def test_worker_page_has_chat_recommendations_and_no_notes(client, with_note, alice, clara):
    services.message_send(consultation_id=with_note.pk, sender=clara, body="How are you feeling?")
    services.recommendation_add(consultation_id=with_note.pk, author=clara, body="Rest in the shade")
    response = page(client, alice.user, f"/consultations/{with_note.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "How are you feeling?" in html and "Rest in the shade" in html
    assert 'data-side="worker"' in html and f'data-socket="/ws/consultations/{with_note.pk}/"' in html
    assert NOTE_TEXT not in html
    assert 'id="notes"' not in html and "Clinician notes" not in html
    assert f"/consultations/{with_note.pk}/notes/" not in html
    assert "Close consultation" not in html


def test_clinician_page_has_notes_and_actions_and_logs_the_read(client, with_note, alice, clara):
    html = page(client, clara, f"/consultations/{with_note.pk}/").content.decode()
    assert NOTE_TEXT in html and 'data-side="clinician"' in html
    assert "Close consultation" in html and f"/workers/{alice.pk}/" in html
    assert AccessLog.objects.filter(accessor=clara, worker=alice, what="consultation").exists()


@pytest.mark.parametrize("who", OUTSIDERS)
def test_consultation_page_is_404_for_everyone_else(client, with_note, cast, who):
    response = page(client, cast[who], f"/consultations/{with_note.pk}/")
    assert response.status_code == 404
    assert b"Dizzy" not in response.content and NOTE_TEXT.encode() not in response.content
    assert not AccessLog.objects.filter(accessor=cast[who]).exists()


def test_anonymous_is_sent_to_login(client, requested):
    response = client.get(f"/consultations/{requested.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_clinician_takes_a_requested_consultation(client, requested, clara):
    client.force_login(clara)
    html = client.get(f"/consultations/{requested.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Take this consultation" in html
    response = client.post(f"/consultations/{requested.pk}/take/")
    assert response.status_code == 302
    requested.refresh_from_db()
    assert (requested.status, requested.clinician) == ("active", clara)


def test_a_worker_cannot_take_and_is_told_why(client, requested, alice):
    client.force_login(alice.user)
    response = client.post(f"/consultations/{requested.pk}/take/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Only a clinician" in response.content.decode()
    requested.refresh_from_db()
    assert requested.status == "requested"


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("action", ["take", "messages", "notes", "recommendations", "close", "clearances"])
def test_actions_are_404_for_everyone_else(client, active, cast, who, action):
    client.force_login(cast[who])
    data = {"body": "text", "outcome": "go_home", "return_on": "2030-01-01"}
    assert client.post(f"/consultations/{active.pk}/{action}/", data).status_code == 404
    assert not (Message.objects.exists() or Note.objects.exists() or Recommendation.objects.exists())
    active.refresh_from_db()
    assert active.status == "active"


def test_chat_works_without_javascript(client, active, alice):
    client.force_login(alice.user)
    response = client.post(f"/consultations/{active.pk}/messages/", {"body": "Sent from a form"})
    assert response.status_code == 302
    assert Message.objects.get().body == "Sent from a form"
    assert "Sent from a form" in client.get(f"/consultations/{active.pk}/").content.decode()


def test_a_worker_posting_a_note_stores_nothing(client, active, alice):
    client.force_login(alice.user)
    client.post(f"/consultations/{active.pk}/notes/", {"body": "my own note"})
    assert not Note.objects.exists()


def test_clinician_recommends_closes_and_clears(client, active, alice, clara):
    client.force_login(clara)
    client.post(f"/consultations/{active.pk}/notes/", {"body": NOTE_TEXT})
    client.post(f"/consultations/{active.pk}/recommendations/", {"body": "Go home and rest"})
    client.post(f"/consultations/{active.pk}/close/", {"outcome": "go_home"})
    day = active.requested_at.date().replace(year=active.requested_at.year + 1).isoformat()
    client.post(f"/consultations/{active.pk}/clearances/", {"return_on": day, "note": "cleared"})
    active.refresh_from_db()
    assert (active.status, active.outcome) == ("closed", "go_home")
    assert Clearance.objects.get().return_on.isoformat() == day
    html = page(client, alice.user, f"/consultations/{active.pk}/").content.decode()
    assert "Go home and rest" in html and "Go home" in html and day in html and "cleared" in html
    assert NOTE_TEXT not in html
    assert 'id="chat-form"' not in html  # the chat has ended


def test_closing_without_an_outcome_is_refused_with_a_message(client, active, clara):
    client.force_login(clara)
    response = client.post(f"/consultations/{active.pk}/close/", {"outcome": ""}, follow=True)
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    active.refresh_from_db()
    assert active.status == "active"


def test_start_from_alert_opens_the_consultation_and_reuses_it(client, alice_alert, clara):
    client.force_login(clara)
    first = client.post(f"/consultations/from-alert/{alice_alert.pk}/")
    consultation = Consultation.objects.get()
    assert first.status_code == 302 and first["Location"] == f"/consultations/{consultation.pk}/"
    assert consultation.alert == alice_alert and consultation.clinician == clara
    second = client.post(f"/consultations/from-alert/{alice_alert.pk}/")
    assert second["Location"] == first["Location"] and Consultation.objects.count() == 1
    html = client.get(first["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "From alert" in html and "SOS pressed" in html


def test_start_from_alert_needs_a_post(client, alice_alert, clara):
    client.force_login(clara)
    assert client.get(f"/consultations/from-alert/{alice_alert.pk}/").status_code == 405


@pytest.mark.parametrize("who", ["alice", "bob", "carl", "hana", "adam"])
def test_start_from_alert_is_404_for_everyone_else(client, alice_alert, cast, who):
    client.force_login(cast[who])
    assert client.post(f"/consultations/from-alert/{alice_alert.pk}/").status_code == 404
    assert not Consultation.objects.exists()


def test_video_call_is_offered_with_the_configured_ice_servers(client, active, alice, settings):
    settings.WEBRTC_ICE_SERVERS = [{"urls": "stun:stun.plant-a.example:3478"}]
    html = page(client, alice.user, f"/consultations/{active.pk}/").content.decode()
    assert 'id="call-start"' in html and 'id="remote-video"' in html
    assert "stun:stun.plant-a.example:3478" in html
    assert "js/consultation.js" in html
