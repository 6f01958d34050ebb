"""Reading back a worker's data: ``GET /api/v1/workers/{id}/readings/``, raw
or in time buckets, visible to the worker and their site's clinicians only,
and every read by a clinician in the worker's access log. Also the API's
schema and docs pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from devices import apis
from devices.protocol import ValidReading
from devices.services import readings_store
from tests.conftest import api_as
from workers.models import AccessLog

pytestmark = pytest.mark.django_db


def utc(hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return datetime(2026, 1, 5, hh, mm, ss, us, tzinfo=UTC)


def store(device, rows: list[tuple[str, float, datetime]]) -> None:
    readings_store(
        device_id=device.pk,
        worker_id=device.worker_id,
        readings=[ValidReading(index=i, metric=m, value=v, at=at) for i, (m, v, at) in enumerate(rows)],
        received_at=timezone.now(),
        touch=False,
    )


def url(worker) -> str:
    return f"/api/v1/workers/{worker.pk}/readings/"


def get(user, worker, **params):
    return api_as(user).get(url(worker), params)


def points(response) -> list[tuple[str, float, datetime]]:
    return [
        (p["metric"], p["value"], datetime.fromisoformat(p["at"]).astimezone(UTC)) for p in response.json()["points"]
    ]


def buckets(response) -> list[tuple[str, datetime, float, float, float, int]]:
    return [
        (b["metric"], datetime.fromisoformat(b["start"]).astimezone(UTC), b["min"], b["max"], b["mean"], b["count"])
        for b in response.json()["buckets"]
    ]


# A known series on 2026-01-05 (UTC). Its buckets are worked out by hand in
# the tests below; 09:00 UTC is a multiple of 1m, 5m, 7m and 1h since the epoch.
SERIES = [
    ("heart_rate", 60, utc(8, 59, 30)),
    ("heart_rate", 62, utc(8, 59, 50)),
    ("heart_rate", 70, utc(9, 0, 0)),
    ("heart_rate", 80, utc(9, 0, 59, 500_000)),
    ("spo2", 97, utc(9, 0, 30)),
    ("heart_rate", 90, utc(9, 1, 0)),
    ("spo2", 95, utc(9, 3, 0)),
    ("heart_rate", 100, utc(9, 4, 59)),
    ("heart_rate", 110, utc(9, 5, 0)),
    ("heart_rate", 120, utc(9, 59, 59)),
    ("heart_rate", 130, utc(10, 0, 0)),
]
WINDOW = {"from": utc(8, 0).isoformat(), "to": utc(11, 0).isoformat()}


@pytest.fixture
def series(alice_device):
    device, _ = alice_device
    store(device, list(reversed(SERIES)))  # stored out of order on purpose
    return device


# --- raw points ------------------------------------------------------------------


def test_raw_points_come_back_in_time_order(alice, series):
    response = get(alice.user, alice, **WINDOW)
    assert response.status_code == 200
    assert points(response) == sorted([(m, float(v), at) for m, v, at in SERIES], key=lambda p: (p[2], p[0]))
    body = response.json()
    assert body["worker"] == alice.pk
    assert body["resolution"] is None
    assert body["next"] is None


def test_metric_filter_returns_only_that_metric(alice, series):
    response = get(alice.user, alice, metric="spo2", **WINDOW)
    assert points(response) == [("spo2", 97.0, utc(9, 0, 30)), ("spo2", 95.0, utc(9, 3))]


def test_window_includes_from_and_excludes_to(alice, series):
    response = get(alice.user, alice, **{"from": utc(9, 0).isoformat(), "to": utc(9, 1).isoformat()})
    assert [p[2] for p in points(response)] == [utc(9, 0), utc(9, 0, 30), utc(9, 0, 59, 500_000)]


def test_from_and_to_may_be_epoch_milliseconds_or_carry_any_offset(alice, series):
    response = get(
        alice.user,
        alice,
        **{"from": str(int(utc(9, 0).timestamp() * 1000)), "to": "2026-01-05T18:01:00+09:00"},
    )
    assert response.status_code == 200
    assert len(points(response)) == 3


def test_default_window_is_the_24_hours_before_now(alice, alice_device):
    device, _ = alice_device
    now = timezone.now()
    store(
        device,
        [
            ("heart_rate", 61, now - timedelta(hours=25)),
            ("heart_rate", 62, now - timedelta(hours=23)),
            ("heart_rate", 63, now - timedelta(minutes=1)),
        ],
    )
    assert [p[1] for p in points(get(alice.user, alice))] == [62.0, 63.0]


def test_with_only_to_the_window_is_the_24_hours_before_it(alice, alice_device):
    device, _ = alice_device
    to = utc(12, 0)
    store(device, [("heart_rate", 61, to - timedelta(hours=25)), ("heart_rate", 62, to - timedelta(hours=1))])
    assert [p[1] for p in points(get(alice.user, alice, to=to.isoformat()))] == [62.0]


def test_over_the_cap_points_are_paged_with_next_and_nothing_is_lost_or_repeated(alice, alice_device, monkeypatch):
    monkeypatch.setattr(apis, "MAX_RAW_POINTS", 4)
    device, _ = alice_device
    start = utc(9, 0)
    rows = [("heart_rate", 70 + i, start + timedelta(seconds=10 * i)) for i in range(10)]
    rows.append(("spo2", 97, start + timedelta(seconds=30)))  # shares an instant with a heart rate
    store(device, rows)
    expected = sorted([(m, float(v), at) for m, v, at in rows], key=lambda p: (p[2], p[0]))

    client = api_as(alice.user)
    response = client.get(url(alice), WINDOW)
    seen: list = []
    pages = 0
    while True:
        assert response.status_code == 200
        assert datetime.fromisoformat(response.json()["to"]) == utc(11, 0)
        page = points(response)
        assert 0 < len(page) <= 4
        seen += page
        pages += 1
        if response.json()["next"] is None:
            break
        response = client.get(response.json()["next"])
        assert pages < 10
    assert seen == expected
    assert pages > 2


def test_next_keeps_the_metric_and_the_end_of_the_window(alice, alice_device, monkeypatch):
    monkeypatch.setattr(apis, "MAX_RAW_POINTS", 2)
    device, _ = alice_device
    store(device, [(m, 97, utc(9, i)) for i in range(4) for m in ("spo2", "heart_rate")])
    first = get(alice.user, alice, metric="spo2", **WINDOW)
    second = api_as(alice.user).get(first.json()["next"])
    assert second.json()["to"] == first.json()["to"]
    assert [p[0] for p in points(first) + points(second)] == ["spo2"] * 4


# --- buckets -------------------------------------------------------------------------


def test_one_minute_buckets(alice, series):
    response = get(alice.user, alice, resolution="1m", **WINDOW)
    assert response.status_code == 200
    assert response.json()["resolution"] == "1m"
    assert "points" not in response.json()
    assert buckets(response) == [
        ("heart_rate", utc(8, 59), 60, 62, 61, 2),
        ("heart_rate", utc(9, 0), 70, 80, 75, 2),  # 09:00:59.5 is still in 09:00
        ("spo2", utc(9, 0), 97, 97, 97, 1),
        ("heart_rate", utc(9, 1), 90, 90, 90, 1),
        ("spo2", utc(9, 3), 95, 95, 95, 1),
        ("heart_rate", utc(9, 4), 100, 100, 100, 1),
        ("heart_rate", utc(9, 5), 110, 110, 110, 1),
        ("heart_rate", utc(9, 59), 120, 120, 120, 1),
        ("heart_rate", utc(10, 0), 130, 130, 130, 1),
    ]


def test_five_minute_buckets(alice, series):
    assert buckets(get(alice.user, alice, resolution="5m", **WINDOW)) == [
        ("heart_rate", utc(8, 55), 60, 62, 61, 2),
        ("heart_rate", utc(9, 0), 70, 100, 85, 4),
        ("spo2", utc(9, 0), 95, 97, 96, 2),
        ("heart_rate", utc(9, 5), 110, 110, 110, 1),
        ("heart_rate", utc(9, 55), 120, 120, 120, 1),
        ("heart_rate", utc(10, 0), 130, 130, 130, 1),
    ]


def test_one_hour_buckets(alice, series):
    assert buckets(get(alice.user, alice, resolution="1h", **WINDOW)) == [
        ("heart_rate", utc(8, 0), 60, 62, 61, 2),
        ("heart_rate", utc(9, 0), 70, 120, 95, 6),
        ("spo2", utc(9, 0), 95, 97, 96, 2),
        ("heart_rate", utc(10, 0), 130, 130, 130, 1),
    ]


def test_buckets_start_at_multiples_of_their_width_since_the_epoch_not_at_from(alice, series):
    # 08:00 UTC is 3 minutes past a multiple of 7 minutes since the epoch, so
    # the bucket holding 08:59:30 starts at 08:53, not at 08:56.
    response = get(alice.user, alice, resolution="7m", metric="heart_rate", **WINDOW)
    assert buckets(response) == [
        ("heart_rate", utc(8, 53), 60, 62, 61, 2),
        ("heart_rate", utc(9, 0), 70, 110, 90, 5),
        ("heart_rate", utc(9, 56), 120, 130, 125, 2),
    ]
    assert all(start.timestamp() % 420 == 0 for _, start, *_ in buckets(response))


def test_day_buckets_are_utc_days(alice, alice_device):
    device, _ = alice_device
    store(device, [("heart_rate", 60, utc(0, 30) - timedelta(hours=1)), ("heart_rate", 70, utc(8, 30))])
    response = get(alice.user, alice, resolution="1d", **{"from": "2026-01-04T00:00:00Z", "to": "2026-01-06T00:00:00Z"})
    assert buckets(response) == [
        ("heart_rate", datetime(2026, 1, 4, tzinfo=UTC), 60, 60, 60, 1),
        ("heart_rate", datetime(2026, 1, 5, tzinfo=UTC), 70, 70, 70, 1),
    ]


def test_no_readings_give_no_buckets(alice, alice_device):
    assert get(alice.user, alice, resolution="5m", **WINDOW).json()["buckets"] == []


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"metric": "blood_sugar"}, "metric", "unknown metric 'blood_sugar'"),
        ({"resolution": "5x"}, "resolution", "resolution must look like 30s, 5m, 1h or 1d"),
        ({"resolution": "1s"}, "resolution", "between 10s and 7d"),
        ({"resolution": "8d"}, "resolution", "between 10s and 7d"),
        ({"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T10:00:00Z"}, "from", "must be before 'to'"),
        ({"from": "2026-01-05T11:00:00Z", "to": "2026-01-05T10:00:00Z"}, "from", "must be before 'to'"),
        ({"from": "yesterday"}, "from", "ISO 8601"),
        ({"to": "2026-01-05T10:00:00"}, "to", "ISO 8601"),  # no offset
        ({"from": "0001-01-01T00:00:00+01:00"}, "from", "ISO 8601"),  # before datetime.min in UTC
        ({"to": "0001-01-01T00:00:00+00:00"}, "from", "must be before 'to'"),  # no 24 h before it
        (
            {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "resolution": "10s"},
            "resolution",
            "more than 20000 buckets",
        ),
    ],
)
def test_a_bad_query_is_400_with_a_clear_message_and_is_not_logged(clara, alice, series, params, field, message):
    response = get(clara, alice, **params)
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not AccessLog.objects.exists()


# --- who may read --------------------------------------------------------------------------

SECRET_VALUE = 123.25


@pytest.fixture
def alice_reading(alice_device):
    device, _ = alice_device
    store(device, [("heart_rate", SECRET_VALUE, timezone.now() - timedelta(minutes=1))])


@pytest.mark.parametrize("resolution", [None, "1m"])
def test_alice_reads_her_own_readings_without_an_access_log_entry(alice, alice_reading, resolution):
    params = {"resolution": resolution} if resolution else {}
    response = get(alice.user, alice, **params)
    assert response.status_code == 200
    assert str(SECRET_VALUE) in response.content.decode()
    assert not AccessLog.objects.exists()


def test_her_sites_clinician_reads_alice_and_the_read_is_logged(clara, alice, alice_reading):
    response = get(clara, alice, reason="heat alert follow-up")
    assert response.status_code == 200
    assert str(SECRET_VALUE) in response.content.decode()
    assert list(AccessLog.objects.values_list("accessor", "worker", "what", "reason")) == [
        (clara.pk, alice.pk, "readings", "heat alert follow-up")
    ]


@pytest.mark.parametrize("who", ["bob", "charlie", "carl", "hana", "adam"])
@pytest.mark.parametrize("resolution", [None, "1m"])
def test_everyone_else_gets_404_and_no_data(who, resolution, request, alice, alice_reading):
    user = request.getfixturevalue(who)
    user = getattr(user, "user", user)  # bob and charlie are Workers
    params = {"resolution": resolution} if resolution else {}
    response = get(user, alice, **params)
    assert response.status_code == 404
    body = response.content.decode()
    for leak in (str(SECRET_VALUE), "heart_rate", alice.employee_number, "alice", '"points"', '"buckets"'):
        assert leak not in body
    assert not AccessLog.objects.exists()


def test_a_refused_worker_looks_the_same_as_no_worker(bob, alice, alice_reading):
    refused = get(bob.user, alice)
    missing = api_as(bob.user).get(f"/api/v1/workers/{alice.pk + 1000}/readings/")
    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())


def test_anonymous_is_refused_and_gets_no_data(alice, alice_reading):
    response = api_as(None).get(url(alice))
    assert response.status_code in (401, 403)
    assert str(SECRET_VALUE) not in response.content.decode()
    assert not AccessLog.objects.exists()


# --- schema and docs ------------------------------------------------------------------------


def test_openapi_schema_renders_with_every_endpoint(alice):
    # Signed-in users only (tests/security/test_hardening.py for anonymous).
    response = api_as(alice.user).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/ingest/",
        "/api/v1/devices/",
        "/api/v1/devices/{serial}/revoke/",
        "/api/v1/workers/{worker_id}/readings/",
    ):
        assert path in paths


def test_api_docs_load_only_local_static_assets(alice):
    response = api_as(alice.user).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert assets, "the page references its scripts and styles"
    # Its start-up script is the page itself with ?script (no inline script under the CSP).
    assert "/api/docs/?script=" in assets
    for asset in (a for a in assets if a != "/api/docs/?script="):
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not shipped"
