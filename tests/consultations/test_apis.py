"""The consultations JSON API: the same access rule as the pages, the
services behind it, and notes in clinicians' responses only."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from consultations import services
from consultations.models import Clearance, Consultation, Message, Note
from tests.conftest import api_as
from tests.consultations.conftest import NOTE_TEXT

pytestmark = pytest.mark.django_db

BASE = "/api/v1/consultations/"


@pytest.mark.parametrize(
    ("who", "sees"), [("alice", True), ("clara", True), ("bob", False), ("carl", False), ("hana", False)]
)
def test_list_per_role(requested, cast, who, sees):
    response = api_as(cast[who]).get(BASE)
    assert response.status_code == 200
    assert ({c["id"] for c in response.json()} == {requested.pk}) is sees
    if not sees:
        assert response.json() == []


def test_list_filters_by_status(requested, active, clara):
    assert [c["id"] for c in api_as(clara).get(BASE, {"status": "open"}).json()] == [active.pk]
    assert api_as(clara).get(BASE, {"status": "closed"}).json() == []
    assert api_as(clara).get(BASE, {"status": "bogus"}).status_code == 400


def test_anonymous_gets_nothing(requested):
    assert api_as(None).get(BASE).status_code in (401, 403)
    assert api_as(None).get(f"{BASE}{requested.pk}/").status_code in (401, 403)


def test_worker_asks_for_a_consultation(alice):
    response = api_as(alice.user).post(BASE, {"reason": "Rash on my arm", "urgency": "routine"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "requested" and body["worker"] == alice.pk and body["clinician"] is None
    assert Consultation.objects.get().reason == "Rash on my arm"


@pytest.mark.parametrize("who", ["clara", "hana"])
def test_only_workers_ask(cast, who):
    response = api_as(cast[who]).post(BASE, {"reason": "x", "urgency": "routine"}, format="json")
    assert response.status_code == 403
    assert not Consultation.objects.exists()


def test_a_request_is_validated(alice):
    response = api_as(alice.user).post(BASE, {"reason": "x", "urgency": "later"}, format="json")
    assert response.status_code == 400


def test_clinician_detail_has_notes_and_worker_detail_has_none(with_note, alice, clara):
    clinician = api_as(clara).get(f"{BASE}{with_note.pk}/").json()
    assert [n["body"] for n in clinician["notes"]] == [NOTE_TEXT]
    response = api_as(alice.user).get(f"{BASE}{with_note.pk}/")
    assert response.status_code == 200
    assert "notes" not in response.json()
    assert NOTE_TEXT not in response.content.decode()


@pytest.mark.parametrize("who", ["bob", "charlie", "carl", "hana", "adam"])
def test_detail_and_messages_are_404_for_everyone_else(with_note, cast, who):
    client = api_as(cast[who])
    for url in (f"{BASE}{with_note.pk}/", f"{BASE}{with_note.pk}/messages/"):
        response = client.get(url)
        assert response.status_code == 404
        assert NOTE_TEXT not in response.content.decode()
    assert client.post(f"{BASE}{with_note.pk}/messages/", {"body": "hi"}, format="json").status_code == 404
    assert client.post(f"{BASE}{with_note.pk}/messages/read/", {}, format="json").status_code == 404
    assert not Message.objects.exists()


def test_chat_through_the_api_with_marks(active, alice, clara):
    worker, clinician = api_as(alice.user), api_as(clara)
    sent = worker.post(f"{BASE}{active.pk}/messages/", {"body": "Hello", "ref": "a-1"}, format="json")
    assert sent.status_code == 201 and sent.json()["from"] == "worker"
    again = worker.post(f"{BASE}{active.pk}/messages/", {"body": "Hello", "ref": "a-1"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    reply = clinician.post(f"{BASE}{active.pk}/messages/", {"body": "Hi Alice"}, format="json").json()
    assert worker.post(f"{BASE}{active.pk}/messages/delivered/", {}, format="json").json() == {"marked": [reply["id"]]}
    assert worker.post(f"{BASE}{active.pk}/messages/read/", {"up_to": reply["id"]}, format="json").json() == {
        "marked": [reply["id"]]
    }
    messages = worker.get(f"{BASE}{active.pk}/messages/").json()
    assert [m["body"] for m in messages] == ["Hello", "Hi Alice"]
    assert messages[1]["read_at"] is not None and messages[0]["read_at"] is None
    assert [m["id"] for m in worker.get(f"{BASE}{active.pk}/messages/", {"after": sent.json()["id"]}).json()] == [
        reply["id"]
    ]


def test_a_message_in_a_closed_consultation_is_a_conflict(active, alice, clara):
    services.consultation_close(consultation_id=active.pk, clinician=clara, outcome="fit_for_work")
    response = api_as(alice.user).post(f"{BASE}{active.pk}/messages/", {"body": "Hello"}, format="json")
    assert response.status_code == 409


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("hana", 403), ("bob", 403), ("carl", 404)])
def test_notes_api_is_for_the_sites_clinicians_only(with_note, cast, who, status):
    client = api_as(cast[who])
    response = client.get(f"{BASE}{with_note.pk}/notes/")
    assert response.status_code == status
    assert NOTE_TEXT not in response.content.decode()
    assert client.post(f"{BASE}{with_note.pk}/notes/", {"body": "mine"}, format="json").status_code == status
    assert Note.objects.count() == 1


def test_clinician_writes_and_reads_notes(active, clara):
    client = api_as(clara)
    assert client.post(f"{BASE}{active.pk}/notes/", {"body": NOTE_TEXT}, format="json").status_code == 201
    assert [n["body"] for n in client.get(f"{BASE}{active.pk}/notes/").json()] == [NOTE_TEXT]


def test_clinician_takes_recommends_closes_and_clears(requested, alice, clara):
    client = api_as(clara)
    assert client.post(f"{BASE}{requested.pk}/take/").json()["status"] == "active"
    response = client.post(f"{BASE}{requested.pk}/recommendations/", {"body": "Rest"}, format="json")
    assert response.status_code == 201
    assert client.post(f"{BASE}{requested.pk}/close/", {"outcome": "nope"}, format="json").status_code == 400
    closed = client.post(f"{BASE}{requested.pk}/close/", {"outcome": "rest_then_return"}, format="json").json()
    assert (closed["status"], closed["outcome"]) == ("closed", "rest_then_return")
    # The site's own day (a UTC date is the day before in Seoul after 15:00 UTC).
    day = requested.requested_at.astimezone(ZoneInfo(alice.site.timezone)).date().isoformat()
    response = client.post(f"{BASE}{requested.pk}/clearances/", {"return_on": day, "note": "ok"}, format="json")
    assert response.status_code == 201 and response.json()["return_on"] == day
    detail = api_as(alice.user).get(f"{BASE}{requested.pk}/").json()
    assert [r["body"] for r in detail["recommendations"]] == ["Rest"]
    assert detail["outcome"] == "rest_then_return" and detail["clearances"][0]["return_on"] == day


def test_clearance_before_closing_is_a_conflict(active, clara):
    response = api_as(clara).post(f"{BASE}{active.pk}/clearances/", {"return_on": "2030-01-01"}, format="json")
    assert response.status_code == 409
    assert not Clearance.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("hana", 403), ("carl", 404)])
def test_clinician_actions_are_refused_to_others(active, cast, who, status):
    client = api_as(cast[who])
    for action, data in (
        ("take", {}),
        ("recommendations", {"body": "x"}),
        ("close", {"outcome": "go_home"}),
        ("clearances", {"return_on": "2030-01-01"}),
    ):
        assert client.post(f"{BASE}{active.pk}/{action}/", data, format="json").status_code == status, action
    active.refresh_from_db()
    assert active.status == "active"


def test_start_from_alert_creates_then_reuses(alice_alert, clara):
    client = api_as(clara)
    first = client.post(f"{BASE}from-alert/{alice_alert.pk}/")
    assert first.status_code == 201 and first.json()["alert"] == alice_alert.pk
    second = client.post(f"{BASE}from-alert/{alice_alert.pk}/")
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("hana", 403), ("carl", 404)])
def test_start_from_alert_is_refused_to_others(alice_alert, cast, who, status):
    assert api_as(cast[who]).post(f"{BASE}from-alert/{alice_alert.pk}/").status_code == status
    assert not Consultation.objects.exists()


def test_the_schema_documents_the_consultations_api(client, alice):
    client.force_login(alice.user)  # the schema is for signed-in users
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/v1/consultations/{consultation_id}/messages/" in paths
