"""Daily check-ins: submitted by the worker for themself, one per day,
validated, visible like other health data, and a fever raises an alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.models import Alert
from tests.conftest import api_as
from workers.models import CheckIn
from workers.services import checkin_submit

pytestmark = pytest.mark.django_db


def test_worker_checks_in_and_a_second_checkin_replaces_the_first(alice):
    client = api_as(alice.user)
    first = client.post("/api/v1/checkins/", {"temperature": 36.6, "symptoms": ["cough"]}, format="json")
    assert first.status_code == 201
    assert first.json()["symptoms"] == ["cough"]
    client.post("/api/v1/checkins/", {"temperature": 36.8, "symptoms": []}, format="json")
    checkin = CheckIn.objects.get(worker=alice)
    assert (checkin.temperature, checkin.symptoms) == (36.8, [])


def test_the_day_is_the_sites_local_day(alice):
    # 23:30 UTC is 08:30 the next day in Seoul
    checkin = checkin_submit(
        worker=alice, temperature=None, symptoms=[], now=datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    )
    assert str(checkin.day) == "2026-11-25"


@pytest.mark.parametrize(
    "body",
    [{"temperature": 29}, {"temperature": 46}, {"symptoms": ["headache"]}, {"temperature": "hot"}],
)
def test_bad_checkins_are_refused_and_nothing_is_stored(alice, body):
    response = api_as(alice.user).post("/api/v1/checkins/", body, format="json")
    assert response.status_code == 400
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize("who", ["clara", "hana"])
def test_only_workers_check_in(clara, hana, who):
    response = api_as({"clara": clara, "hana": hana}[who]).post("/api/v1/checkins/", {}, format="json")
    assert response.status_code == 403


def test_fever_on_the_thermometer_raises_a_fever_alert(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_as(alice.user).post("/api/v1/checkins/", {"temperature": 37.9, "symptoms": ["fever"]}, format="json")
    alert = Alert.objects.get(worker=alice)
    assert (alert.kind, alert.severity) == ("fever", "warning")
    assert alert.evidence["checkin_temperature"] == 37.9


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("clara", 200), ("bob", 404), ("hana", 404), ("carl", 404)]
)
def test_checkins_are_read_like_other_health_data(alice, bob, clara, hana, carl, who, status):
    checkin_submit(worker=alice, temperature=36.5, symptoms=["fatigue"])
    user = {"alice": alice.user, "clara": clara, "bob": bob.user, "hana": hana, "carl": carl}[who]
    response = api_as(user).get(f"/api/v1/workers/{alice.pk}/checkins/")
    assert response.status_code == status
    if status == 200:
        assert response.json()[0]["symptoms"] == ["fatigue"]
