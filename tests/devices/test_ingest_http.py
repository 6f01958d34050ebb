"""The HTTP fallback of the device protocol, ``POST /api/v1/ingest/``: the same
``readings`` body and the same ``ack`` as the socket, or 400 with the
protocol's ``error`` object."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from rest_framework.test import APIClient

from devices.models import Device, Reading
from devices.services import device_assign, device_provision, device_revoke, device_token_rotate
from tests.devices.wsclient import batch, hr_series, iso, now_utc

pytestmark = pytest.mark.django_db

URL = "/api/v1/ingest/"


def post(token: str | None, body: dict | bytes | str, client: APIClient | None = None, **headers):
    client = client or APIClient()
    if token is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
    data = body if isinstance(body, bytes | str) else orjson.dumps(body)
    return client.generic("POST", URL, data, content_type="application/json", **headers)


def stored(serial: str = "A-1") -> list[tuple[str, float, object]]:
    return list(
        Reading.objects.filter(device__serial=serial)
        .order_by("measured_at", "metric")
        .values_list("metric", "value", "measured_at")
    )


def test_batch_is_stored_and_answered_with_the_sockets_ack(alice_device):
    _, token = alice_device
    at = now_utc() - timedelta(seconds=30)
    response = post(
        token,
        batch(
            42,
            [
                {"metric": "heart_rate", "value": 88, "at": iso(at)},
                {"metric": "spo2", "value": 97, "at": iso(at)},
                {"metric": "skin_temp", "value": 34.1, "at": int(at.timestamp() * 1000)},
                {"metric": "heart_rate", "value": 251, "at": iso(at - timedelta(seconds=1))},
            ],
        ),
    )
    assert response.status_code == 200
    assert response.json() == {
        "type": "ack",
        "seq": 42,
        "accepted": 3,
        "duplicates": 0,
        "rejected": [{"index": 3, "reason": "out_of_range"}],
    }
    assert stored() == [("heart_rate", 88.0, at), ("skin_temp", 34.1, at), ("spo2", 97.0, at)]


def test_every_rejection_reason_is_reported_with_its_index_and_spares_the_rest(alice_device):
    _, token = alice_device
    now = now_utc()
    good = {"metric": "heart_rate", "value": 70, "at": iso(now - timedelta(seconds=5))}
    readings = [
        {"metric": "blood_sugar", "value": 5, "at": iso(now)},
        {"metric": "heart_rate", "value": 19, "at": iso(now)},
        {"metric": "heart_rate", "value": "88", "at": iso(now)},
        {"metric": "heart_rate", "value": 88, "at": "2026-11-24T09:00:00"},
        good,
        {"metric": "heart_rate", "value": 88, "at": iso(now + timedelta(minutes=6))},
        {"metric": "heart_rate", "value": 88, "at": iso(now - timedelta(days=7, minutes=1))},
    ]
    response = post(token, batch(3, readings))
    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {"index": 0, "reason": "unknown_metric"},
        {"index": 1, "reason": "out_of_range"},
        {"index": 2, "reason": "bad_value"},
        {"index": 3, "reason": "bad_timestamp"},
        {"index": 5, "reason": "future_timestamp"},
        {"index": 6, "reason": "too_old"},
    ]
    assert response.json()["accepted"] == 1
    assert [(m, v) for m, v, _ in stored()] == [("heart_rate", 70.0)]


def test_resent_batch_in_a_second_request_is_stored_once(alice_device):
    _, token = alice_device
    readings = hr_series(20)
    first = post(token, batch(1, readings)).json()
    again = post(token, batch(1, readings)).json()
    assert (first["accepted"], first["duplicates"]) == (20, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 20)
    assert len(stored()) == 20


def test_overlapping_requests_count_only_new_readings(alice_device):
    _, token = alice_device
    series = hr_series(30)
    post(token, batch(1, series[:20]))
    ack = post(token, batch(2, series[10:])).json()
    assert (ack["accepted"], ack["duplicates"]) == (10, 10)
    assert len(stored()) == 30


def test_duplicates_inside_one_request_are_stored_once(alice_device):
    _, token = alice_device
    readings = hr_series(5)
    ack = post(token, batch(1, readings + readings[:2])).json()
    assert (ack["accepted"], ack["duplicates"]) == (5, 2)
    assert len(stored()) == 5


def test_a_socket_and_http_share_one_identity_for_a_reading(alice_device):
    """A batch first stored by another path (here the service the consumer
    uses) is a duplicate over HTTP: the key is (device, metric, time)."""
    from devices.protocol import Limits
    from devices.services import batch_receive

    device, token = alice_device
    readings = hr_series(3)
    batch_receive(
        device_id=device.pk, worker_id=device.worker_id, message=batch(1, readings), limits=Limits.from_settings()
    )
    ack = post(token, batch(2, readings)).json()
    assert (ack["accepted"], ack["duplicates"]) == (0, 3)


def test_battery_and_last_seen_are_recorded(alice_device):
    device, token = alice_device
    post(token, batch(1, [{"metric": "battery", "value": 41, "at": iso(now_utc())}]))
    device.refresh_from_db()
    assert device.battery == 41
    assert device.last_seen_at is not None


def test_no_csrf_token_is_needed_with_a_bearer_token(alice_device):
    _, token = alice_device
    response = post(token, batch(1, hr_series(1)), client=APIClient(enforce_csrf_checks=True))
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("body", "code", "seq"),
    [
        (b"{not json", "bad_json", None),
        (b"\xff\xfe\x00garbage", "bad_json", None),
        (b"", "bad_json", None),
        (b"[1, 2]", "bad_schema", None),
        (b'{"seq": 3}', "bad_schema", None),
        (b'{"type": "readings", "readings": []}', "bad_schema", None),
        (b'{"type": "readings", "seq": "3", "readings": []}', "bad_schema", None),
        (b'{"type": "readings", "seq": 3, "readings": {}}', "bad_schema", 3),
        (b'{"type": "readings", "seq": 3}', "bad_schema", 3),
        (b'{"type": "telemetry", "seq": 4, "readings": []}', "unknown_type", 4),
        (b'{"type": "hello", "token": "x"}', "unknown_type", None),
    ],
)
def test_a_body_that_is_not_a_batch_is_400_with_the_protocol_error(alice_device, body, code, seq):
    _, token = alice_device
    response = post(token, body)
    assert response.status_code == 400
    error = response.json()
    assert (error["type"], error["code"], error["seq"]) == ("error", code, seq)
    assert error["detail"]
    assert stored() == []


def test_a_batch_over_max_batch_is_too_large_and_nothing_is_stored(alice_device):
    _, token = alice_device
    response = post(token, batch(5, hr_series(501)))
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["seq"]) == ("too_large", 5)
    assert stored() == []
    assert post(token, batch(6, hr_series(500))).json()["accepted"] == 500


def test_a_body_over_256_kib_is_too_large_and_nothing_is_stored(alice_device):
    _, token = alice_device
    readings = orjson.dumps(hr_series(3)).decode()
    body = f'{{"type": "readings", "seq": 1, "pad": "{"x" * 256 * 1024}", "readings": {readings}}}'
    response = post(token, body)
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert stored() == []


def test_a_body_over_djangos_upload_limit_still_gets_the_protocol_error(alice_device, settings):
    # Past DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses to read the body at all;
    # the device must still get a JSON error it can parse.
    _, token = alice_device
    body = b'{"type": "readings", "seq": 1, "pad": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
    response = post(token, body)
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"


def _assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["code"] == code
    assert Reading.objects.count() == 0


@pytest.mark.parametrize("token", ["nope", "", "hhd_" + "x" * 43, "x" * 500])
def test_an_unknown_token_is_401(alice_device, token):
    response = post(token, batch(1, hr_series(1)))
    _assert_refused(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_missing_token_is_401(alice_device):
    _assert_refused(post(None, batch(1, hr_series(1))), 401, "unauthenticated")


def test_a_token_in_another_scheme_is_401(alice_device):
    _, token = alice_device
    response = post(None, batch(1, hr_series(1)), HTTP_AUTHORIZATION=f"Basic {token}")
    _assert_refused(response, 401, "unauthenticated")


def test_a_logged_in_worker_without_a_device_token_is_401(alice_device, alice):
    client = APIClient()
    client.force_login(alice.user)
    _assert_refused(post(None, batch(1, hr_series(1)), client=client), 401, "unauthenticated")


def test_a_revoked_token_is_401(alice_device):
    device, token = alice_device
    device_revoke(device=device)
    _assert_refused(post(token, batch(1, hr_series(1))), 401, "unauthenticated")


def test_a_rotated_out_token_is_401_and_the_new_one_works(alice_device):
    device, old = alice_device
    new = device_token_rotate(device=device)
    _assert_refused(post(old, batch(1, hr_series(1))), 401, "unauthenticated")
    assert post(new, batch(1, hr_series(1))).json()["accepted"] == 1


def test_an_unassigned_device_is_403(alice_device):
    device, token = alice_device
    device_assign(device=device, worker=None)
    _assert_refused(post(token, batch(1, hr_series(1))), 403, "forbidden")


def test_a_device_of_another_worker_stores_under_that_worker(alice_device, charlie):
    _, token = device_provision(serial="B-7", worker=charlie)
    assert post(token, batch(1, hr_series(2))).json()["accepted"] == 2
    assert set(Reading.objects.values_list("worker_id", flat=True)) == {charlie.pk}
    assert Device.objects.get(serial="A-1").last_seen_at is None
