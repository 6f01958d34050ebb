"""The safety officer (first responder): SOS and falls of their sites with
who, where and what kind, "on my way" and "with the worker"; nothing else of
anyone's health data by any route."""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from django.utils import timezone

from alerts import services
from alerts.models import Alert, WorkerZone
from alerts.rules.base import Evaluation, Severity
from devices.models import Reading
from tests.conftest import api_as
from tests.factories import staff
from tests.test_access_matrix import fill, walk
from workers.models import AccessLog, CheckIn
from workers.names import person_name

pytestmark = pytest.mark.django_db
HEART_RATE = 171.75
TEMPERATURE = 38.85


@pytest.fixture
def sam(site_a):
    return staff("sam", "safety_officer", site_a)


def raise_alert(worker, kind, severity=Severity.CRITICAL, message="SOS button pressed"):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active(kind, severity, message), now=timezone.now()
    )


@pytest.fixture
def incidents(alice, bob, charlie, alice_device):
    device, _ = alice_device
    now = timezone.now()
    Reading.objects.create(
        device=device, worker=alice, metric="heart_rate", value=HEART_RATE, measured_at=now, received_at=now
    )
    WorkerZone.objects.create(worker=alice, zone="gw-3F-east", reported_at=now)
    return {
        "sos": raise_alert(alice, "sos"),
        "hypoxemia": raise_alert(bob, "hypoxemia", Severity.URGENT, "Blood oxygen is low"),
        "other_site": raise_alert(charlie, "fall"),
    }


def test_safety_officers_start_on_their_page(client, sam):
    client.force_login(sam)
    assert client.get("/").url == "/respond/"


def test_the_page_shows_who_where_and_what_kind_and_nothing_clinical(client, sam, alice, incidents, charlie):
    client.force_login(sam)
    page = client.get("/respond/").content.decode()
    assert person_name(alice.user) in page and alice.employee_number in page
    assert "gw-3F-east" in page and "Plant A" in page
    assert "SOS" in page
    assert str(HEART_RATE) not in page and "SOS button pressed" not in page
    assert person_name(charlie.user) not in page  # another site
    assert "Blood oxygen" not in page and "E0" + str(incidents["hypoxemia"].worker.employee_number) not in page
    assert AccessLog.objects.filter(accessor=sam, worker=alice, what="SOS / fall response").exists()


def test_marks_go_on_the_alerts_history(client, sam, incidents):
    alert = incidents["sos"]
    client.force_login(sam)
    client.post(f"/respond/{alert.pk}/on_my_way/")
    client.post(f"/respond/{alert.pk}/with_worker/")
    alert.refresh_from_db()
    assert (alert.responder, alert.responder_status) == (sam, "with_worker")
    assert list(alert.events.filter(by=sam).values_list("action", flat=True)) == ["on_my_way", "with_worker"]
    assert alert.status == "open"  # the clinicians still acknowledge
    client.post(f"/respond/{alert.pk}/on_my_way/")  # too late: refused, nothing changes
    alert.refresh_from_db()
    assert alert.responder_status == "with_worker"


def test_no_marks_on_other_alerts_or_by_others(client, sam, clara, hana, incidents):
    client.force_login(sam)
    for key in ("hypoxemia", "other_site"):
        assert client.post(f"/respond/{incidents[key].pk}/on_my_way/").status_code == 404
    assert client.post(f"/respond/{incidents['sos'].pk}/dancing/").status_code == 302
    for user in (clara, hana):
        client.force_login(user)
        assert client.get("/respond/").status_code == 404
        assert client.post(f"/respond/{incidents['sos'].pk}/on_my_way/").status_code == 404
    assert not Alert.objects.exclude(responder_status="").exists()


def test_no_vitals_through_the_desk_or_the_api(client, sam, alice, incidents):
    client.force_login(sam)
    assert client.get(f"/workers/{alice.pk}/").status_code == 404
    assert client.get("/desk/").status_code == 404
    api = api_as(sam)
    assert api.get(f"/api/v1/workers/{alice.pk}/readings/").status_code in (403, 404)
    assert api.get("/api/v1/alerts/").json() == []
    assert api.get(f"/api/v1/alerts/{incidents['sos'].pk}/").status_code == 404
    assert api.post(f"/api/v1/alerts/{incidents['sos'].pk}/acknowledge/").status_code == 403


def test_no_route_gives_a_safety_officer_vitals_or_clinical_detail(client, sam, alice, alice_device, incidents):
    """Every URL pattern, as the safety officer, with every id a route could
    take: the SOS list may name alice; nothing may carry her readings,
    check-ins or an alert's clinical text."""
    now = timezone.now()
    CheckIn.objects.create(worker=alice, day=now.date(), temperature=TEMPERATURE, submitted_at=now)
    ids = sorted({str(alice.pk), str(alice_device[0].pk), *(str(a.pk) for a in incidents.values())})
    words = [alice_device[0].serial, alice.employee_number, "readings", "alerts", "checkins", "on_my_way"]
    forbidden = [str(HEART_RATE), str(TEMPERATURE), "SOS button pressed", "Blood oxygen is low"]
    checked = 0
    for pattern in sorted(set(walk(get_resolver().url_patterns))):
        if pattern.startswith(("static/", "admin/jsi18n")) or "__debug__" in pattern:
            continue
        for path in fill(pattern, ids, words):
            client.force_login(sam)
            response = client.get(path)
            checked += 1
            if response.status_code != 200 or response.get("Content-Type", "").startswith("image/"):
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode("utf-8", "replace")
            assert not [m for m in forbidden if m in text], f"the safety officer got clinical data from {path}"
            if not path.startswith("/respond/"):
                assert person_name(alice.user) not in text, f"the safety officer got alice's name from {path}"
    assert checked > 50


def test_the_worker_sees_that_help_is_coming(client, sam, alice, incidents):
    client.force_login(sam)
    client.post(f"/respond/{incidents['sos'].pk}/on_my_way/")
    client.force_login(alice.user)
    assert "Help is on the way." in client.get("/me/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.force_login(sam)
    client.post(f"/respond/{incidents['sos'].pk}/with_worker/")
    client.force_login(alice.user)
    assert "도움이 가고 있습니다" not in client.get("/me/").content.decode()
    assert "현장 대응자가 곁에 있습니다." in client.get("/me/").content.decode()


def test_the_desk_shows_the_zone_too(client, clara, incidents):
    client.force_login(clara)
    assert "gw-3F-east" in client.get("/desk/").content.decode()
