"""The device protocol over Channels' WebsocketCommunicator: every rule of
docs/device-protocol.md that a connection can see."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings

from devices.models import Reading
from devices.services import device_assign, device_revoke
from tests.devices.wsclient import batch, communicator, connected, hr_series, iso, now_utc, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def stored(device_serial: str = "A-1") -> list[tuple[str, float, object]]:
    return list(
        Reading.objects.filter(device__serial=device_serial)
        .order_by("measured_at", "metric")
        .values_list("metric", "value", "measured_at")
    )


async def test_header_token_gets_welcome(alice_device):
    _, token = alice_device
    comm = communicator(token)
    ok, _ = await comm.connect()
    assert ok
    welcome = await comm.receive_json_from()
    assert welcome["type"] == "welcome"
    assert welcome["device"] == "A-1"
    assert welcome["max_batch"] == 500
    assert "server_time" in welcome
    await comm.disconnect()


async def test_hello_token_gets_welcome(alice_device):
    _, token = alice_device
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "hello", "token": token})
    welcome = await comm.receive_json_from()
    assert welcome == {**welcome, "type": "welcome", "device": "A-1"}
    await comm.disconnect()


@pytest.mark.parametrize("token", ["nope", "", "hhd_" + "x" * 43])
async def test_unknown_token_closes_4401(alice_device, token):
    comm = communicator(token)
    await comm.connect()
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4401}
    await comm.disconnect()


async def test_unknown_hello_token_closes_4401(alice_device):
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "hello", "token": "wrong"})
    assert (await comm.receive_output())["code"] == 4401
    await comm.disconnect()


async def test_readings_before_hello_close_4401(alice_device):
    comm = communicator()
    await comm.connect()
    await comm.send_json_to(batch(1, hr_series(1)))
    assert (await comm.receive_output())["code"] == 4401
    assert await stored() == []
    await comm.disconnect()


async def test_no_hello_in_time_closes_4408(alice_device):
    comm = communicator()
    await comm.connect()
    # tests/settings.py shortens the 10 s hello window to 0.5 s
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4408}
    await comm.disconnect()


async def test_revoked_token_closes_4401(alice_device):
    device, token = alice_device
    await database_sync_to_async(device_revoke)(device=device)
    comm = communicator(token)
    await comm.connect()
    assert (await comm.receive_output())["code"] == 4401
    await comm.disconnect()


async def test_unassigned_device_closes_4403(alice_device):
    device, token = alice_device
    await database_sync_to_async(device_assign)(device=device, worker=None)
    comm = communicator(token)
    await comm.connect()
    assert (await comm.receive_output())["code"] == 4403
    await comm.disconnect()


async def test_batch_is_stored_then_acknowledged(alice_device):
    _, token = alice_device
    comm = await connected(token)
    at = now_utc() - timedelta(seconds=30)
    ack = await send(
        comm,
        batch(
            42,
            [
                {"metric": "heart_rate", "value": 88, "at": iso(at)},
                {"metric": "spo2", "value": 97, "at": iso(at)},
                {"metric": "skin_temp", "value": 34.1, "at": int(at.timestamp() * 1000)},
            ],
        ),
    )
    assert ack == {"type": "ack", "seq": 42, "accepted": 3, "duplicates": 0, "rejected": []}
    rows = await stored()
    assert sorted((m, v) for m, v, _ in rows) == [("heart_rate", 88.0), ("skin_temp", 34.1), ("spo2", 97.0)]
    assert {at_ for _, _, at_ in rows} == {at}
    await comm.disconnect()


@pytest.mark.parametrize(
    ("reading", "reason"),
    [
        ({"metric": "blood_sugar", "value": 5, "at": "NOW"}, "unknown_metric"),
        ({"value": 5, "at": "NOW"}, "unknown_metric"),
        ({"metric": "heart_rate", "value": 251, "at": "NOW"}, "out_of_range"),
        ({"metric": "heart_rate", "value": 19.9, "at": "NOW"}, "out_of_range"),
        ({"metric": "spo2", "value": 100.1, "at": "NOW"}, "out_of_range"),
        ({"metric": "fall", "value": 2, "at": "NOW"}, "out_of_range"),
        ({"metric": "steps", "value": -1, "at": "NOW"}, "out_of_range"),
        ({"metric": "heart_rate", "value": "88", "at": "NOW"}, "bad_value"),
        ({"metric": "heart_rate", "value": True, "at": "NOW"}, "bad_value"),
        ({"metric": "heart_rate", "value": None, "at": "NOW"}, "bad_value"),
        ({"metric": "heart_rate", "at": "NOW"}, "bad_value"),
        ("heart_rate=88", "bad_value"),
        ({"metric": "heart_rate", "value": 88, "at": "yesterday"}, "bad_timestamp"),
        ({"metric": "heart_rate", "value": 88, "at": "2026-11-24T09:00:00"}, "bad_timestamp"),
        ({"metric": "heart_rate", "value": 88}, "bad_timestamp"),
        ({"metric": "heart_rate", "value": 88, "at": 1.5}, "bad_timestamp"),
        ({"metric": "heart_rate", "value": 88, "at": "FUTURE"}, "future_timestamp"),
        ({"metric": "heart_rate", "value": 88, "at": "OLD"}, "too_old"),
    ],
)
async def test_each_rejection_reason_spares_the_rest_of_the_batch(alice_device, reading, reason):
    _, token = alice_device
    now = now_utc()
    times = {"NOW": iso(now), "FUTURE": iso(now + timedelta(minutes=6)), "OLD": iso(now - timedelta(days=7, minutes=1))}
    if isinstance(reading, dict) and reading.get("at") in times:
        reading = {**reading, "at": times[reading["at"]]}
    good = {"metric": "heart_rate", "value": 70, "at": iso(now - timedelta(seconds=1))}
    comm = await connected(token)
    ack = await send(comm, batch(7, [good, reading, {**good, "at": iso(now - timedelta(seconds=2))}]))
    assert ack["accepted"] == 2
    assert ack["rejected"] == [{"index": 1, "reason": reason}]
    assert len(await stored()) == 2
    await comm.disconnect()


async def test_timestamps_within_tolerance_are_accepted(alice_device):
    _, token = alice_device
    now = now_utc()
    comm = await connected(token)
    ack = await send(
        comm,
        batch(
            1,
            [
                {"metric": "heart_rate", "value": 70, "at": iso(now + timedelta(minutes=4))},
                {"metric": "heart_rate", "value": 70, "at": iso(now - timedelta(days=6, hours=23))},
                {"metric": "heart_rate", "value": 70, "at": iso(now)},
            ],
        ),
    )
    assert ack["accepted"] == 3 and ack["rejected"] == []
    await comm.disconnect()


async def test_offsets_are_converted_to_utc(alice_device):
    _, token = alice_device
    now = now_utc()
    seoul = now.astimezone(ZoneInfo("Asia/Seoul"))
    comm = await connected(token)
    ack = await send(
        comm,
        batch(
            1,
            [
                {"metric": "heart_rate", "value": 70, "at": seoul.isoformat()},
                {"metric": "heart_rate", "value": 71, "at": int(now.timestamp() * 1000)},
            ],
        ),
    )
    # the same instant twice: one reading, one duplicate
    assert (ack["accepted"], ack["duplicates"]) == (1, 1)
    assert [(v, at) for _, v, at in await stored()] == [(70.0, now)]
    await comm.disconnect()


async def test_resent_batch_is_stored_once(alice_device):
    _, token = alice_device
    comm = await connected(token)
    readings = hr_series(25)
    first = await send(comm, batch(1, readings))
    again = await send(comm, batch(2, readings))
    assert (first["accepted"], first["duplicates"]) == (25, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 25)
    assert len(await stored()) == 25
    await comm.disconnect()


async def test_duplicates_inside_one_batch_are_stored_once(alice_device):
    _, token = alice_device
    comm = await connected(token)
    readings = hr_series(5)
    ack = await send(comm, batch(1, readings + readings[:3]))
    assert (ack["accepted"], ack["duplicates"]) == (5, 3)
    assert len(await stored()) == 5
    await comm.disconnect()


async def test_overlapping_batches_count_only_new_readings(alice_device):
    _, token = alice_device
    comm = await connected(token)
    series = hr_series(30)
    await send(comm, batch(1, series[:20]))
    ack = await send(comm, batch(2, series[10:]))
    assert (ack["accepted"], ack["duplicates"]) == (10, 10)
    assert len(await stored()) == 30
    await comm.disconnect()


async def test_dropped_connection_before_ack_then_resend_stores_once(alice_device):
    _, token = alice_device
    readings = hr_series(10)
    comm = await connected(token)
    await comm.send_json_to(batch(1, readings))
    await comm.disconnect()  # gone before the ack could be read
    comm = await connected(token)
    ack = await send(comm, batch(1, readings))
    assert ack["accepted"] + ack["duplicates"] == 10
    assert len(await stored()) == 10
    await comm.disconnect()


@pytest.mark.parametrize(
    ("frame", "code", "seq"),
    [
        ("{not json", "bad_json", None),
        ("[1, 2]", "bad_schema", None),
        ('{"seq": 3}', "bad_schema", None),
        ('{"type": "readings", "readings": []}', "bad_schema", None),
        ('{"type": "readings", "seq": "3", "readings": []}', "bad_schema", None),
        ('{"type": "readings", "seq": 3, "readings": {}}', "bad_schema", 3),
        ('{"type": "readings", "seq": 3}', "bad_schema", 3),
        ('{"type": "telemetry", "seq": 4}', "unknown_type", 4),
        ('{"type": "hello", "token": "x"}', "bad_schema", None),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_stays_open(alice_device, frame, code, seq):
    _, token = alice_device
    comm = await connected(token)
    await comm.send_to(text_data=frame)
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["seq"] == seq
    assert error["detail"]
    ack = await send(comm, batch(9, hr_series(1)))
    assert ack["accepted"] == 1
    await comm.disconnect()


async def test_too_many_readings_is_too_large(alice_device):
    _, token = alice_device
    comm = await connected(token)
    error = await send(comm, batch(5, hr_series(501)))
    assert (error["type"], error["code"], error["seq"]) == ("error", "too_large", 5)
    assert await stored() == []
    ack = await send(comm, batch(6, hr_series(500)))
    assert ack["accepted"] == 500
    await comm.disconnect()


async def test_frame_over_256_kib_is_too_large(alice_device):
    _, token = alice_device
    comm = await connected(token)
    padding = "x" * (256 * 1024)
    await comm.send_to(text_data=f'{{"type": "readings", "seq": 1, "pad": "{padding}", "readings": []}}')
    error = await comm.receive_json_from()
    assert error["code"] == "too_large"
    await comm.disconnect()


@override_settings(
    DEVICE_PROTOCOL={
        **settings.DEVICE_PROTOCOL,
        "RATE_PER_S": 0.001,
        "RATE_BURST": 3,
        "RATE_CLOSE_AFTER": 3,
    }
)
async def test_rate_limit_errors_then_closes_4429(alice_device):
    _, token = alice_device
    comm = await connected(token)
    for seq in range(3):
        assert (await send(comm, batch(seq, hr_series(1))))["type"] == "ack"
    error = await send(comm, batch(3, hr_series(1)))
    assert (error["code"], error["seq"]) == ("rate_limited", 3)
    await comm.send_json_to(batch(4, hr_series(1)))
    await comm.send_json_to(batch(5, hr_series(1)))
    assert (await comm.receive_json_from())["code"] == "rate_limited"
    assert (await comm.receive_output())["code"] == 4429
    await comm.disconnect()


async def test_revoked_mid_session_closes_4401_and_stores_nothing_more(alice_device):
    device, token = alice_device
    comm = await connected(token)
    assert (await send(comm, batch(1, hr_series(2))))["accepted"] == 2
    await database_sync_to_async(device_revoke)(device=device)
    assert (await comm.receive_output(timeout=3))["code"] == 4401
    await comm.disconnect()
    comm = communicator(token)
    await comm.connect()
    assert (await comm.receive_output())["code"] == 4401
    await comm.disconnect()
    assert len(await stored()) == 2


async def test_reassigned_device_is_asked_to_reconnect(alice_device, bob):
    device, token = alice_device
    comm = await connected(token)
    await database_sync_to_async(device_assign)(device=device, worker=bob)
    assert (await comm.receive_output(timeout=3))["code"] == 1012
    await comm.disconnect()
    comm = await connected(token)
    await send(comm, batch(1, hr_series(1)))
    await comm.disconnect()
    worker_ids = await database_sync_to_async(lambda: list(Reading.objects.values_list("worker_id", flat=True)))()
    assert worker_ids == [bob.pk]


async def test_battery_and_last_seen_are_recorded(alice_device):
    device, token = alice_device
    comm = await connected(token)
    await send(comm, batch(1, [{"metric": "battery", "value": 64, "at": iso(now_utc())}]))
    await comm.disconnect()
    await database_sync_to_async(device.refresh_from_db)()
    assert device.battery == 64
    assert device.last_seen_at is not None


async def test_alert_push_reaches_the_device(alice_device):
    from channels.layers import get_channel_layer

    from healthhub.live import device_group

    device, token = alice_device
    comm = await connected(token)
    await get_channel_layer().group_send(
        device_group(device.pk),
        {
            "type": "alert.push",
            "id": "17",
            "kind": "heat_strain",
            "severity": "warning",
            "action": "rest_in_shade",
            "message": "그늘에서 쉬세요",
        },
    )
    assert await comm.receive_json_from() == {
        "type": "alert",
        "id": "17",
        "kind": "heat_strain",
        "severity": "warning",
        "action": "rest_in_shade",
        "message": "그늘에서 쉬세요",
    }
    await comm.disconnect()
