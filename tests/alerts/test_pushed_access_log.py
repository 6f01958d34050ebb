"""Health data pushed to an open screen leaves an access-log row (PIPA
safety measures, Art. 8: account, time, origin, subject, action): one per
alert or consultation per recipient, however often it is sent again, none
for the worker's own screens."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from alerts import services
from alerts.rules.base import Evaluation, Severity
from consultations import services as consult
from tests.sockets import browser_socket
from workers.models import AccessAction, AccessLog, AccessOrigin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def opened(path: str, user):
    comm = browser_socket(path, user)
    connected, code = await comm.connect()
    assert connected, code
    return comm


@database_sync_to_async
def raise_alert(worker, severity=Severity.WARNING):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active("heat_strain", severity, "Heat strain"), now=timezone.now()
    )


@database_sync_to_async
def pushed_rows() -> list[tuple]:
    return list(
        AccessLog.objects.filter(action=AccessAction.PUSH)
        .order_by("id")
        .values_list("accessor__username", "worker__user__username", "origin", "item", "what")
    )


async def test_an_alert_on_a_clinicians_desk_is_logged_once_per_recipient(alice, clara):
    desk, second_tab, portal = (
        await opened("/ws/alerts/", clara),
        await opened("/ws/alerts/", clara),
        await opened("/ws/alerts/", alice.user),
    )
    alert = await raise_alert(alice)
    await raise_alert(alice, Severity.URGENT)  # the same alert, worse: sent again
    await database_sync_to_async(services.alert_acknowledge)(alert_id=alert.pk, by=clara)
    for comm in (desk, second_tab, portal):
        for _ in range(3):
            assert (await comm.receive_json_from(timeout=3))["alert"]["id"] == alert.pk
    assert await pushed_rows() == [("clara", "alice", AccessOrigin.SOCKET_ALERTS, f"alert:{alert.pk}", "alert (live)")]
    row = await database_sync_to_async(AccessLog.objects.get)(action=AccessAction.PUSH)
    assert (timezone.now() - row.at).total_seconds() < 10
    for comm in (desk, second_tab, portal):
        await comm.disconnect()


async def test_each_alert_and_each_clinician_get_a_row(alice, bob, clara, site_a):
    from tests.factories import staff

    clio = await database_sync_to_async(staff)("clio", "clinician", site_a)
    desks = [await opened("/ws/alerts/", clara), await opened("/ws/alerts/", clio)]
    first, second = await raise_alert(alice), await raise_alert(bob)
    for comm in desks:
        await comm.receive_json_from(timeout=3)
        await comm.receive_json_from(timeout=3)
    rows = {(who, item) for who, _, _, item, _ in await pushed_rows()}
    assert rows == {(who, f"alert:{a.pk}") for who in ("clara", "clio") for a in (first, second)}
    for comm in desks:
        await comm.disconnect()


async def test_a_workers_own_screen_leaves_no_row(alice):
    portal = await opened("/ws/alerts/", alice.user)
    await raise_alert(alice)
    await portal.receive_json_from(timeout=3)
    assert await pushed_rows() == []
    await portal.disconnect()


async def test_a_consultation_request_on_a_clinicians_list_is_logged_once(alice, clara):
    listing = await opened("/ws/consultations/", clara)
    requested = await database_sync_to_async(consult.consultation_request)(
        worker=alice, reason="Dizzy since lunch", urgency="soon"
    )
    await database_sync_to_async(consult.consultation_take)(consultation_id=requested.pk, clinician=clara)
    for _ in range(2):
        frame = await listing.receive_json_from(timeout=3)
        assert frame["consultation"]["reason"] == "Dizzy since lunch"
    assert await pushed_rows() == [
        ("clara", "alice", AccessOrigin.SOCKET_CONSULTATIONS, f"consultation:{requested.pk}", "consultation (live)")
    ]
    await listing.disconnect()
