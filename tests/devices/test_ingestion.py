"""devices.ingestion: one authentication for the socket and the HTTP
fallback, and the promises of the group commit when the database fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError, OperationalError, connection

from devices import ingestion, services
from devices.ingestion import DeviceLogin, Refusal, device_authenticate
from devices.models import EvaluationDue, Reading
from devices.protocol import Limits, ValidReading
from devices.services import IncomingBatch, batches_receive, device_provision, device_revoke
from tests.devices.wsclient import batch, connected, hr_series, iso, now_utc
from workers.services import consent_withdraw


@pytest.mark.django_db
def test_one_authentication_for_every_way_in(alice, alice_device, bob):
    device, token = alice_device
    assert device_authenticate(token) == DeviceLogin(device_id=device.pk, serial="A-1", worker_id=alice.pk)
    assert device_authenticate("not-a-token") is Refusal.UNAUTHENTICATED
    assert device_authenticate(None) is Refusal.UNAUTHENTICATED
    _, unassigned = device_provision(serial="U-1")
    assert device_authenticate(unassigned) is Refusal.UNASSIGNED
    consent_withdraw(worker=alice)
    assert device_authenticate(token) is Refusal.NO_CONSENT
    _, bobs = device_provision(serial="B-1", worker=bob)
    device_revoke(device=device_provision(serial="B-2", worker=bob)[0])
    assert isinstance(device_authenticate(bobs), DeviceLogin)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_database_failure_closes_the_socket_with_1011_and_acknowledges_nothing(alice_device, monkeypatch):
    _, token = alice_device

    def database_down(**kwargs):
        raise OperationalError("connection to server was lost")

    device = await connected(token)
    monkeypatch.setattr(services, "readings_store_many", database_down)
    await device.send_json_to(batch(1, hr_series(5)))
    output = await device.receive_output(timeout=5)
    # Nothing but the close: no ack, no error frame that a device could take for one.
    assert output == {"type": "websocket.close", "code": 1011}
    assert await database_sync_to_async(Reading.objects.count)() == 0
    await device.disconnect()


@pytest.mark.django_db
def test_a_failed_group_commit_is_retried_batch_by_batch(alice_device, bob, charlie, monkeypatch):
    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    device_c, _ = device_provision(serial="C-1", worker=charlie)
    real = services.readings_store_many
    calls: list[list[int]] = []

    def refuses_bobs_batch(*, batches, received_at):
        calls.append([b.device_id for b in batches])
        if any(b.device_id == device_b.pk for b in batches):
            raise OperationalError("value out of range for bob's batch")
        return real(batches=batches, received_at=received_at)

    monkeypatch.setattr(services, "readings_store_many", refuses_bobs_batch)
    incoming = [
        IncomingBatch(device_id=d.pk, worker_id=d.worker_id, message=batch(seq, hr_series(3)))
        for seq, d in enumerate((device_a, device_b, device_c), start=1)
    ]
    received = batches_receive(batches=incoming, limits=Limits.from_settings())
    # One group commit for all three, refused; then each batch on its own.
    assert calls == [[device_a.pk, device_b.pk, device_c.pk], [device_a.pk], [device_b.pk], [device_c.pk]]
    first, second, third = received.results
    assert first[0]["accepted"] == 3 and third[0]["accepted"] == 3
    assert isinstance(second, OperationalError)
    assert sorted(Reading.objects.values_list("device_id", flat=True).distinct()) == sorted([device_a.pk, device_c.pk])
    # Only the stored batches ask for evaluation, and only they are in the outbox.
    assert received.workers_to_evaluate == {device_a.worker_id, device_c.worker_id}
    assert set(EvaluationDue.objects.values_list("worker_id", flat=True)) == {device_a.worker_id, device_c.worker_id}


@pytest.mark.django_db
def test_a_group_commit_touches_each_device_once_with_its_latest_battery(alice_device, bob, charlie):
    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    device_c, _ = device_provision(serial="C-1", worker=charlie)
    device_revoke(device=device_c)
    device_b.battery = 77
    device_b.save(update_fields=["battery"])

    def battery(value: float, second: int) -> dict:
        return {"metric": "battery", "value": value, "at": iso(now_utc() - timedelta(minutes=4, seconds=-second))}

    def incoming(device, seq, readings, touch=True):
        return IncomingBatch(device_id=device.pk, worker_id=device.worker_id, message=batch(seq, readings), touch=touch)

    received = batches_receive(
        batches=[
            incoming(device_a, 1, [battery(60, 1)]),
            incoming(device_a, 2, [battery(55, 2)]),
            incoming(device_a, 3, hr_series(2)),  # no battery: the level stays 55
            incoming(device_b, 1, hr_series(2)),  # touches, no battery: stays 77
            incoming(device_c, 1, hr_series(2)),  # revoked
            incoming(device_c, 2, hr_series(2, metric="spo2", value=97), touch=False),
        ],
        limits=Limits.from_settings(),
    )
    active = [result[1] for result in received.results]
    assert active == [True, True, True, True, False, True]  # a batch that does not touch is not told
    device_a.refresh_from_db()
    device_b.refresh_from_db()
    device_c.refresh_from_db()
    assert (device_a.battery, device_b.battery) == (55, 77)
    assert device_a.last_seen_at is not None and device_b.last_seen_at is not None
    assert device_c.last_seen_at is None


@pytest.mark.django_db
def test_the_http_fallback_answers_200_after_committing_even_when_the_queue_is_down(alice_device, monkeypatch):
    from alerts import services as alert_services
    from tests.devices.test_ingest_http import post
    from tests.devices.wsclient import iso, now_utc

    _, token = alice_device

    def redis_down(task, *args):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("healthhub.dispatch.enqueue", redis_down)
    alert_services._fast_path.resume_at = 0.0
    try:
        response = post(token, batch(1, [{"metric": "sos", "value": 1, "at": iso(now_utc())}]))
        assert response.status_code == 200
        assert (response.json()["accepted"], response.json()["duplicates"]) == (1, 0)
        row = EvaluationDue.objects.get(worker_id=alice_device[0].worker_id)
        assert row.urgent_since is not None  # the sweeper will find it
    finally:
        alert_services._fast_path.resume_at = 0.0
        alert_services._fast_path.down = False


@pytest.mark.asyncio
async def test_an_ack_for_a_socket_the_server_already_closed_is_dropped_quietly():
    """uvicorn closes a socket whose keepalive ping went unanswered (1011)
    while its batch may still be committing; the ack then has nowhere to go
    and the device re-sends. Any other failure to send still raises."""
    from devices.consumers import DeviceConsumer

    consumer = DeviceConsumer()
    consumer.serial = "W-1"

    async def closed(**kwargs):
        raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'.")

    async def broken(**kwargs):
        raise RuntimeError("something else")

    consumer.send = closed
    await consumer._send({"type": "ack", "seq": 1})
    consumer.send = broken
    with pytest.raises(RuntimeError, match="something else"):
        await consumer._send({"type": "ack", "seq": 1})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's in-memory test database ignores closes")
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_writer_keeps_its_connection_for_a_moment_after_its_last_group(alice_device, settings, monkeypatch):
    settings.INGESTION_KEEP_CONNECTION_S = 0.5
    settings.CELERY_TASK_ALWAYS_EAGER = False  # evaluations are requested on a thread of their own

    async def requested(**kwargs):
        return None

    monkeypatch.setattr(ingestion, "_request_evaluations", requested)
    device, _ = alice_device
    writer = ingestion.batch_writer()

    async def send(seq: int) -> None:
        readings = hr_series(2, start=now_utc() - timedelta(minutes=seq))
        incoming = IncomingBatch(device_id=device.pk, worker_id=device.worker_id, message=batch(seq, readings))
        ack, _ = await writer.receive(incoming)
        assert ack["accepted"] == 2

    def connected_now() -> bool:
        return connection.connection is not None

    async def holds(used) -> bool:
        return await asyncio.wrap_future(used.thread.submit(connected_now))

    await send(1)
    used = writer.free[-1]  # the writer that wrote last is taken first
    assert await holds(used)
    await asyncio.sleep(0.3)
    await send(2)  # taken again within the moment: it keeps the same connection
    assert writer.free[-1] is used
    await asyncio.sleep(0.3)
    assert await holds(used)  # 0.6 s after the first group, 0.3 s after the last
    await asyncio.sleep(0.4)
    assert not await holds(used)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce a column's length")
@pytest.mark.django_db
def test_a_group_the_database_refuses_leaves_the_callers_transaction_usable(alice_device, bob):
    # The batch-by-batch retry runs where the group failed; inside a
    # transaction (the tests', a caller's) the group is a savepoint.
    device_a, _ = alice_device
    device_b, _ = device_provision(serial="B-1", worker=bob)
    now = now_utc()
    good = services.BatchToStore(device_a.pk, device_a.worker_id, [ValidReading(0, "heart_rate", 70.0, now)])
    refused = services.BatchToStore(device_b.pk, bob.pk, [ValidReading(0, "x" * 40, 70.0, now)])  # past the column
    with pytest.raises(DatabaseError):
        services.readings_store_many(batches=[good, refused], received_at=now)
    assert [r.accepted for r in services.readings_store_many(batches=[good], received_at=now)] == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_routine_evaluation_requests_are_held_to_travel_together_and_an_sos_is_not(
    alice_device, bob, settings, monkeypatch
):
    # With a broker, each request can become a Celery task, whose cost is
    # mostly its queries: routine ones wait ROUTINE_HOLD_MS for others.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.ALERTS = {**settings.ALERTS, "ROUTINE_HOLD_MS": 2000}
    requests: list[tuple[float, set, set]] = []

    came = asyncio.Event()

    async def requested(*, worker_ids, urgent_ids):
        requests.append((loop.time(), set(worker_ids), set(urgent_ids)))
        came.set()

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(ingestion, "_request_evaluations", requested)
    device_a, _ = alice_device
    device_b, _ = await database_sync_to_async(device_provision)(serial="B-1", worker=bob)
    writer = ingestion.batch_writer()

    async def send(device, seq: int, readings: list[dict]) -> None:
        incoming = IncomingBatch(device_id=device.pk, worker_id=device.worker_id, message=batch(seq, readings))
        ack, _ = await writer.receive(incoming)
        assert ack["accepted"] == len(readings)

    started = loop.time()
    await send(device_a, 1, hr_series(2))
    await send(device_b, 1, hr_series(2))
    await asyncio.wait_for(came.wait(), 10)
    # Both workers in one request, once the hold is over.
    assert [(workers, urgent) for _, workers, urgent in requests] == [({device_a.worker_id, device_b.worker_id}, set())]
    assert requests[0][0] - started >= 2.0

    # An SOS ends a hold at once, and takes the routine requests held with it.
    requests.clear()
    came.clear()
    await send(device_b, 2, hr_series(2, start=now_utc() - timedelta(minutes=1)))
    await asyncio.sleep(0.2)
    assert requests == []  # held
    pressed = loop.time()
    await send(device_a, 2, [{"metric": "sos", "value": 1, "at": iso(now_utc())}])
    await asyncio.wait_for(came.wait(), 10)
    assert [(workers, urgent) for _, workers, urgent in requests] == [
        ({device_a.worker_id, device_b.worker_id}, {device_a.worker_id})
    ]
    assert requests[0][0] - pressed < 1.0
    await asyncio.sleep(0)
    assert not writer.evaluating
