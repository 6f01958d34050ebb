"""The clinician desk's worker page (/workers/<id>/) and site overview
(/desk/sites/<id>/): who may see them and what they show."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertStatus
from desk.selectors import CHART_RANGES
from devices.models import Device, Reading
from devices.services import device_provision
from tests.factories import DepartmentFactory, WorkerFactory
from workers.models import AccessLog, CheckIn, Shift

REFUSED = ["bob", "charlie", "carl", "hana", "adam"]


def chart_data(page: str) -> dict:
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


# --- worker page ---------------------------------------------------------------


def test_worker_page_sends_anonymous_to_login(client, alice):
    response = client.get(f"/workers/{alice.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", REFUSED)
def test_worker_page_is_404_for_everyone_else(client, cast, alice, who):
    client.force_login(cast[who])
    response = client.get(f"/workers/{alice.pk}/")
    assert response.status_code == 404
    assert b"chart-data" not in response.content
    assert AccessLog.objects.count() == 0


def test_worker_page_of_nobody_is_404(client, clara):
    client.force_login(clara)
    assert client.get("/workers/999999/").status_code == 404


def test_opening_the_worker_page_writes_one_access_log_entry_for_the_clinician(client, alice, clara):
    client.force_login(clara)
    assert client.get(f"/workers/{alice.pk}/").status_code == 200
    entry = AccessLog.objects.get()
    assert (entry.accessor, entry.worker, entry.what) == (clara, alice, "worker page")


def test_the_worker_sees_their_own_page_without_an_access_log_entry(client, alice):
    client.force_login(alice.user)
    assert client.get(f"/workers/{alice.pk}/").status_code == 200
    assert AccessLog.objects.count() == 0


def test_worker_page_shows_latest_vitals_with_labels_and_units(client, alice, alice_device, clara):
    device, _ = alice_device
    now = timezone.now()
    for metric, value in (("heart_rate", 96), ("spo2", 97), ("sos", 1)):
        Reading.objects.create(
            device=device, worker=alice, metric=metric, value=value, measured_at=now, received_at=now
        )
    client.force_login(clara)
    page = client.get(f"/workers/{alice.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-metric="heart_rate"' in page and "Heart rate" in page and "beats/min" in page
    assert ">96<" in page and ">97<" in page
    assert 'data-metric="sos"' not in page  # events are marks on the charts, not vitals


def test_chart_ranges_keep_every_chart_to_a_few_hundred_points():
    assert [key for key, _, _ in CHART_RANGES] == ["1h", "1d", "1w", "1m"]
    for _key, span, resolution in CHART_RANGES:
        unit = {"s": 1, "m": 60, "h": 3600}[resolution[-1]]
        assert 100 <= span.total_seconds() / (int(resolution[:-1]) * unit) <= 400


def test_readings_api_gives_the_hour_chart_its_buckets(client, alice, alice_device, clara):
    device, _ = alice_device
    end = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    start = end - timedelta(hours=1)
    Reading.objects.bulk_create(
        Reading(
            device=device,
            worker=alice,
            metric="heart_rate",
            value=80 + i % 7,
            measured_at=start + timedelta(seconds=5 * i),
            received_at=end,
        )
        for i in range(720)
    )
    _key, _span, resolution = CHART_RANGES[0]
    client.force_login(clara)
    response = client.get(
        f"/api/v1/workers/{alice.pk}/readings/",
        {"from": start.isoformat(), "to": end.isoformat(), "resolution": resolution},
    )
    buckets = response.json()["buckets"]
    assert len(buckets) == 120
    assert sum(b["count"] for b in buckets) == 720


def test_worker_page_puts_alerts_and_checkins_on_the_time_line(client, alice, clara):
    now = timezone.now()
    open_sos = Alert.objects.create(
        worker=alice, kind="sos", severity="critical", message="SOS pressed", opened_at=now, updated_at=now
    )
    week_ago = now - timedelta(days=7)
    old_fever = Alert.objects.create(
        worker=alice,
        kind="fever",
        severity="warning",
        status=AlertStatus.RESOLVED,
        message="Fever: see the clinic before going on",
        opened_at=week_ago,
        updated_at=week_ago,
        resolved_at=week_ago + timedelta(hours=2),
    )
    Alert.objects.create(  # too old for the month chart
        worker=alice,
        kind="fall",
        severity="critical",
        status=AlertStatus.RESOLVED,
        message="Fall detected",
        opened_at=now - timedelta(days=60),
        updated_at=now,
        resolved_at=now - timedelta(days=59),
    )
    CheckIn.objects.create(worker=alice, day=date.today(), temperature=37.8, cough=True, submitted_at=now)
    client.force_login(clara)
    page = client.get(f"/workers/{alice.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    data = chart_data(page)
    assert [a["id"] for a in data["alerts"]] == [old_fever.pk, open_sos.pk]
    assert data["alerts"][0]["to"] == int(old_fever.resolved_at.timestamp())
    assert data["alerts"][1]["to"] is None  # still open: the band runs to now
    assert data["checkins"] == [{"at": int(now.timestamp()), "temperature": 37.8, "symptoms": 1}]
    assert data["tz"] == "Asia/Seoul"
    assert [r["resolution"] for r in data["ranges"]] == [res for _, _, res in CHART_RANGES]
    assert "37.8 °C" in page and "cough" in page
    assert 'id="open-alerts"' in page and "SOS pressed" in page


def test_worker_page_lists_the_workers_consultations(client, alice, clara):
    from consultations.models import Consultation

    Consultation.objects.create(worker=alice, reason="Dizzy after lunch", requested_at=timezone.now())
    client.force_login(clara)
    page = client.get(f"/workers/{alice.pk}/").content.decode()
    assert 'id="consultations"' in page and "Dizzy after lunch" in page


# --- site overview --------------------------------------------------------------------


@pytest.fixture
def plant_a_now(alice, bob, clara):
    """Plant A at ``now``: alice on shift, her wearable silent for 10 minutes;
    bob on shift, wearable sending; erin (Paint) on shift without a wearable;
    dave (Paint) whose shift ended two hours ago, wearable silent too."""
    now = timezone.now()
    paint = DepartmentFactory(site=alice.site, name="Paint")
    dave = WorkerFactory(user__username="dave", department=paint)
    erin = WorkerFactory(user__username="erin", department=paint)
    for worker in (alice, bob, erin):
        Shift.objects.create(worker=worker, starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=6))
    Shift.objects.create(worker=dave, starts_at=now - timedelta(hours=10), ends_at=now - timedelta(hours=2))
    for serial, worker, seen in (
        ("A-1", alice, now - timedelta(minutes=10)),
        ("B-1", bob, now - timedelta(seconds=20)),
        ("D-1", dave, now - timedelta(hours=2)),
    ):
        device, _ = device_provision(serial=serial, model="Band 3", worker=worker)
        Device.objects.filter(pk=device.pk).update(last_seen_at=seen)
    alerts = [
        (alice, "signal_lost", "warning", AlertStatus.OPEN),
        (alice, "sos", "critical", AlertStatus.OPEN),
        (bob, "heat_strain", "urgent", AlertStatus.ACKNOWLEDGED),
        (bob, "fever", "warning", AlertStatus.RESOLVED),  # not open: not counted
        (erin, "fall", "critical", AlertStatus.OPEN),
    ]
    for worker, kind, severity, status in alerts:
        Alert.objects.create(
            worker=worker, kind=kind, severity=severity, status=status, message="m", opened_at=now, updated_at=now
        )
    return {"now": now, "paint": paint, "dave": dave, "erin": erin}


def test_site_overview_sends_anonymous_to_login(client, site_a):
    response = client.get(f"/desk/sites/{site_a.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["alice", *REFUSED])
def test_site_overview_is_404_for_all_but_the_sites_clinicians(client, cast, site_a, plant_a_now, who):
    client.force_login(cast[who])
    response = client.get(f"/desk/sites/{site_a.pk}/")
    assert response.status_code == 404
    assert b"Paint" not in response.content


def test_site_overview_of_another_site_is_404_for_a_clinician(client, clara, site_b):
    client.force_login(clara)
    assert client.get(f"/desk/sites/{site_b.pk}/").status_code == 404
    assert client.get("/desk/sites/999999/").status_code == 404


def test_site_overview_counts_who_is_on_shift_and_whose_device_is_silent(client, alice, bob, clara, plant_a_now):
    client.force_login(clara)
    response = client.get(f"/desk/sites/{alice.site_id}/")
    overview = response.context["overview"]
    assert {e.worker.user.username for e in overview.on_shift} == {"alice", "bob", "erin"}
    assert [w.user.username for w in overview.off_shift] == ["dave"]
    # dave's wearable is silent too, but he is off shift; erin has no wearable.
    assert [e.worker.user.username for e in overview.silent] == ["alice"]
    page = response.content.decode()
    assert re.search(r'data-stat="on-shift">3<', page)
    assert re.search(r'data-stat="silent">1<', page)
    silent_section = page[page.index('id="silent"') : page.index('id="departments"')]
    assert f'data-worker="{alice.pk}"' in silent_section and f'data-worker="{bob.pk}"' not in silent_section


def test_site_overview_counts_open_alerts_per_department(client, alice, clara, plant_a_now):
    client.force_login(clara)
    response = client.get(f"/desk/sites/{alice.site_id}/")
    by_department = {d.department.name: d.by_severity for d in response.context["overview"].departments}
    assert by_department == {
        "Assembly": {"warning": 1, "critical": 1, "urgent": 1},
        "Paint": {"critical": 1},
    }
    assert response.context["overview"].open_alerts == 4
    page = response.content.decode()
    paint_row = re.search(rf'<tr data-department="{plant_a_now["paint"].pk}">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-severity="critical"[^>]*>1<', paint_row)
    assert re.search(r'data-severity="total"><strong>1<', paint_row)


def test_site_overview_lists_nobody_of_another_site(client, alice, charlie, clara, plant_a_now):
    client.force_login(clara)
    page = client.get(f"/desk/sites/{alice.site_id}/").content.decode()
    assert charlie.employee_number not in page


def test_site_overview_is_not_a_read_of_health_data(client, alice, clara, plant_a_now):
    # Shifts, device connectivity and counts per department: no access-log entry.
    client.force_login(clara)
    client.get(f"/desk/sites/{alice.site_id}/")
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize(
    ("acclimatized", "shown"),
    [(None, "heat acclimatization unknown"), (False, "not acclimatized to heat"), (True, "acclimatized to heat")],
)
def test_the_worker_page_tells_unknown_acclimatization_from_no(client, alice, clara, acclimatized, shown):
    type(alice).objects.filter(pk=alice.pk).update(acclimatized=acclimatized)
    client.force_login(clara)
    body = client.get(f"/workers/{alice.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert shown in body
    others = {"heat acclimatization unknown", "not acclimatized to heat"} - {shown}
    assert not any(other in body for other in others)
