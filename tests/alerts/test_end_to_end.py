"""From a wearable's reading to the alert on a clinician's dashboard, the
worker's portal and back to the wearable, through whatever runs the tasks
(in-process here, the real Celery worker in the PostgreSQL/Redis CI run)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from alerts.models import Alert
from tests.devices.wsclient import batch, connected, iso, now_utc, send
from tests.sockets import browser_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def dashboard(user) -> WebsocketCommunicator:
    comm = browser_socket("/ws/alerts/", user)
    ok, _ = await comm.connect()
    assert ok
    return comm


async def test_sos_reaches_clinician_portal_and_wearable(alice, alice_device, clara, celery_worker_mode):
    _, token = alice_device
    desk = await dashboard(clara)
    portal = await dashboard(alice.user)
    device = await connected(token)
    ack = await send(device, batch(1, [{"metric": "sos", "value": 1, "at": iso(now_utc())}]))
    assert ack["accepted"] == 1
    timeout = 20 if celery_worker_mode else 3
    for comm in (desk, portal):
        message = await comm.receive_json_from(timeout=timeout)
        assert (message["change"], message["alert"]["kind"], message["alert"]["severity"]) == (
            "opened",
            "sos",
            "critical",
        )
    frame = await device.receive_json_from(timeout=timeout)
    assert (frame["type"], frame["kind"], frame["severity"]) == ("alert", "sos", "critical")
    alerts = await database_sync_to_async(lambda: list(Alert.objects.values_list("kind", flat=True)))()
    assert alerts == ["sos"]
    for comm in (desk, portal, device):
        await comm.disconnect()


async def test_many_batches_do_not_open_duplicate_alerts(alice, alice_device, celery_worker_mode):
    _, token = alice_device
    device = await connected(token)
    start = now_utc()
    for seq in range(5):
        at = start.replace(microsecond=0)
        readings = [{"metric": "fall", "value": 1, "at": iso(at)}] if seq == 0 else []
        readings.append({"metric": "heart_rate", "value": 90 + seq, "at": iso(at.replace(second=seq))})
        await send(device, batch(seq, readings))
    deadline = asyncio.get_running_loop().time() + (20 if celery_worker_mode else 2)
    while True:
        kinds = await database_sync_to_async(lambda: list(Alert.objects.values_list("kind", flat=True)))()
        if kinds or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert kinds == ["fall"]
    await device.disconnect()
