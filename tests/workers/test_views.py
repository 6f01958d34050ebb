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
    assert client.get("/")["Location"] == "/me/"  # a worker's home is their portal
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/").status_code == 302


def test_clinician_home_redirects_to_the_triage_queue(client, clara):
    # Which workers and alerts a clinician sees is tested with the desk
    # (tests/alerts/test_views.py, tests/workers/test_desk_views.py).
    client.force_login(clara)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/desk/"


@pytest.mark.parametrize(("who", "home"), [("alice", "/me/"), ("hana", "/insights/")])
def test_each_role_lands_on_its_own_home(client, alice, hana, who, home):
    client.force_login({"alice": alice.user, "hana": hana}[who])
    assert client.get("/")["Location"] == home


def test_site_admin_home_lists_nobody(client, alice, bob, adam):
    client.force_login(adam)
    page = client.get("/").content.decode()
    assert alice.employee_number not in page and bob.employee_number not in page
    assert "/admin/" in page


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


def test_repeated_reads_within_ten_minutes_are_one_access_log_entry(alice, clara):
    from datetime import timedelta

    from workers.services import access_log_record

    access_log_record(accessor=clara, worker=alice, what="readings")
    access_log_record(accessor=clara, worker=alice, what="readings")
    access_log_record(accessor=clara, worker=alice, what="worker page")
    assert AccessLog.objects.count() == 2
    # Eleven minutes later (the log is append-only: the clock moves, the row does not).
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        access_log_record(accessor=clara, worker=alice, what="readings")
    assert AccessLog.objects.filter(what="readings").count() == 2
