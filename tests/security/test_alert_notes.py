"""Clinicians' notes on an alert are private to the site's clinicians by
default; the author may share one with the worker when writing it (issue 8).
The worker sees only shared notes, through the API and their own export."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from tests.conftest import api_as

pytestmark = pytest.mark.django_db

PRIVATE = "Possible arrhythmia; check the medication list"
SHARED = "Please rest for ten minutes and drink water"
PRIVATE_ON_RESOLVE = "Resolved; discuss the medication at the next visit"


@pytest.fixture
def noted_alert(alice, clara):
    alert = alert_apply(
        worker_id=alice.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=timezone.now()
    )
    clinician = api_as(clara)
    url = f"/api/v1/alerts/{alert.pk}"
    assert clinician.post(f"{url}/annotate/", {"note": PRIVATE}, format="json").status_code == 200
    response = clinician.post(f"{url}/annotate/", {"note": SHARED, "share_with_worker": True}, format="json")
    assert response.status_code == 200
    assert clinician.post(f"{url}/resolve/", {"note": PRIVATE_ON_RESOLVE}, format="json").status_code == 200
    return alert


def notes(events: list[dict]) -> list[str]:
    return [e["detail"]["note"] for e in events if e["detail"].get("note")]


def test_a_note_is_private_unless_shared_when_written(noted_alert, clara):
    events = api_as(clara).get(f"/api/v1/alerts/{noted_alert.pk}/").json()["events"]
    assert notes(events) == [PRIVATE, SHARED, PRIVATE_ON_RESOLVE]
    assert [e["shared"] for e in events if e["detail"].get("note")] == [False, True, False]


def test_the_worker_sees_only_the_shared_note_in_the_api(noted_alert, alice):
    response = api_as(alice.user).get(f"/api/v1/alerts/{noted_alert.pk}/")
    assert response.status_code == 200
    events = response.json()["events"]
    assert notes(events) == [SHARED]
    assert PRIVATE not in response.content.decode() and PRIVATE_ON_RESOLVE not in response.content.decode()
    assert [e["action"] for e in events] == ["opened", "note", "resolved"]


def test_the_worker_sees_only_the_shared_note_in_their_export(client, noted_alert, alice):
    client.force_login(alice.user)
    response = client.get(reverse("portal:export-json"))
    raw = b"".join(response.streaming_content).decode()
    (alert,) = json.loads(raw)["alerts"]
    assert [e.get("note") for e in alert["events"] if e.get("note")] == [SHARED]
    assert PRIVATE not in raw and PRIVATE_ON_RESOLVE not in raw


def test_share_with_worker_must_be_a_boolean(noted_alert, clara):
    response = api_as(clara).post(
        f"/api/v1/alerts/{noted_alert.pk}/annotate/", {"note": "x", "share_with_worker": "perhaps"}, format="json"
    )
    assert response.status_code == 400 and "share_with_worker" in response.json()


def test_the_desk_dialog_offers_the_choice_unchecked(client, clara):
    client.force_login(clara)
    html = client.get(reverse("desk:triage")).content.decode()
    assert '<input type="checkbox" name="share_with_worker">' in html
