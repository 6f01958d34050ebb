"""Live alert stream: clinicians get their sites' alerts, workers their own,
HR and everyone else are refused before any group is joined."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from alerts import services
from alerts.rules.base import Evaluation, Severity
from tests.sockets import browser_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def stream(user, origin=b"http://localhost"):
    return browser_socket("/ws/alerts/", user, origin=origin)


@database_sync_to_async
def raise_alert(worker, kind="sos"):
    return services.alert_apply(
        worker_id=worker.pk,
        evaluation=Evaluation.active(kind, Severity.CRITICAL, "SOS pressed"),
        now=timezone.now(),
    )


async def test_clinician_receives_alerts_of_their_site_live(alice, charlie, clara):
    comm = stream(clara)
    connected, _ = await comm.connect()
    assert connected
    await raise_alert(charlie)  # another site: must not arrive
    alert = await raise_alert(alice)
    message = await comm.receive_json_from(timeout=3)
    assert message["type"] == "alert" and message["change"] == "opened"
    assert message["alert"]["id"] == alert.pk and message["alert"]["worker"] == alice.pk
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_worker_receives_only_their_own(alice, bob):
    comm = stream(alice.user)
    connected, _ = await comm.connect()
    assert connected
    await raise_alert(bob)
    assert await comm.receive_nothing(timeout=0.2)
    alert = await raise_alert(alice)
    assert (await comm.receive_json_from(timeout=3))["alert"]["id"] == alert.pk
    await comm.disconnect()


@pytest.mark.parametrize("who", ["hana", "adam", "anonymous"])
async def test_hr_admin_and_anonymous_are_refused(hana, adam, who):
    comm = stream({"hana": hana, "adam": adam, "anonymous": None}[who])
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_foreign_origin_is_refused(clara):
    comm = stream(clara, origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()
