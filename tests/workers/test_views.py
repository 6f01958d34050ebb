"""The pages: login and logout, home, and the worker page with its access rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices.models import Reading
from workers.models import AccessLog


@pytest.fixture
def alice_reading(alice_device):
    device, _ = alice_device
    return Reading.objects.create(
        device=device,
        worker=device.worker,
        metric="heart_rate",
        value=77,
        measured_at=datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
        received_at=datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC),
    )


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_and_logout(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/").status_code == 302


def test_clinician_home_lists_only_their_sites_workers(client, alice, bob, charlie, clara):
    client.force_login(clara)
    page = client.get("/").content.decode()
    assert alice.employee_number in page and bob.employee_number in page
    assert charlie.employee_number not in page


@pytest.mark.parametrize("who", ["hana", "adam"])
def test_hr_and_site_admin_home_lists_nobody(client, alice, bob, hana, adam, who):
    client.force_login({"hana": hana, "adam": adam}[who])
    page = client.get("/").content.decode()
    assert alice.employee_number not in page and bob.employee_number not in page


@pytest.mark.parametrize(("who", "status"), [("alice", 200), ("clara", 200)])
def test_worker_page_for_those_allowed(client, alice_reading, alice, clara, who, status):
    client.force_login({"alice": alice.user, "clara": clara}[who])
    response = client.get(f"/workers/{alice.pk}/")
    assert response.status_code == status
    assert "heart_rate" in response.content.decode()
    assert "77" in response.content.decode()


def test_worker_page_writes_the_access_log_for_a_clinician_only(client, alice_reading, alice, clara):
    client.force_login(alice.user)
    client.get(f"/workers/{alice.pk}/")
    assert AccessLog.objects.count() == 0
    client.force_login(clara)
    client.get(f"/workers/{alice.pk}/")
    entry = AccessLog.objects.get()
    assert (entry.accessor, entry.worker, entry.what) == (clara, alice, "worker page")


@pytest.mark.parametrize("who", ["bob", "charlie", "carl", "hana", "adam"])
def test_worker_page_is_404_for_everyone_else(client, alice_reading, alice, bob, charlie, carl, hana, adam, who):
    user = {"bob": bob.user, "charlie": charlie.user, "carl": carl, "hana": hana, "adam": adam}[who]
    client.force_login(user)
    response = client.get(f"/workers/{alice.pk}/")
    assert response.status_code == 404
    assert b"heart_rate" not in response.content
    assert AccessLog.objects.count() == 0


def test_access_log_cannot_be_changed_or_deleted(alice, clara):
    from workers.services import access_log_record

    access_log_record(accessor=clara, worker=alice, what="readings")
    entry = AccessLog.objects.get()
    entry.what = "nothing"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    assert AccessLog.objects.get().what == "readings"


@pytest.fixture
def alice_alert(alice):
    from django.utils import timezone

    from alerts.rules.base import Evaluation, Severity
    from alerts.services import alert_apply

    return alert_apply(
        worker_id=alice.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=timezone.now()
    )


def test_clinician_home_shows_open_alerts_with_actions(client, alice_alert, clara):
    client.force_login(clara)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-id="{alice_alert.pk}"' in page
    assert 'data-can-act="1"' in page
    assert "SOS pressed" in page


def test_korean_home_translates_the_alert(client, alice_alert, clara):
    client.force_login(clara)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "SOS 호출" in page


@pytest.mark.parametrize("who", ["bob", "hana", "carl"])
def test_others_do_not_see_the_alert(client, alice_alert, bob, hana, carl, who):
    client.force_login({"bob": bob.user, "hana": hana, "carl": carl}[who])
    page = client.get("/").content.decode()
    assert f'data-id="{alice_alert.pk}"' not in page


def test_worker_sees_own_alert_without_actions(client, alice_alert, alice):
    client.force_login(alice.user)
    page = client.get("/").content.decode()
    assert f'data-id="{alice_alert.pk}"' in page
    assert 'data-can-act="0"' in page
