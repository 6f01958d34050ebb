"""Dashboards of one session share a push's re-check and its access-log row
(accounts.sockets._InFlight): an alert sent to a site costs one check per
session and one row per person, not one of each per open tab, and a failed
shared check still closes every one of those tabs."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts import sockets
from accounts.sockets import CLOSE_SESSION_ENDED
from alerts import services
from alerts.rules.base import Evaluation, Severity
from tests.sockets import browser_socket, session_key_of
from workers.models import AccessAction, AccessLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
TABS = 5


@pytest.fixture
def counted_checks(monkeypatch):
    """Sessions re-checked, by key; each check takes 0.2 s, so that every
    tab's push arrives while the first one's check is in flight."""
    checked: list[str] = []
    real = sockets.socket_user_now

    def slow(session_key, user_id):
        checked.append(session_key)
        time.sleep(0.2)
        return real(session_key, user_id)

    monkeypatch.setattr(sockets, "socket_user_now", slow)
    return checked


async def tabs_of(session_key: str, count: int) -> list:
    tabs = []
    for _ in range(count):
        comm = browser_socket("/ws/alerts/", session_key=session_key)
        connected, code = await comm.connect()
        assert connected, code
        tabs.append(comm)
    return tabs


@database_sync_to_async
def raise_alert(worker):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=timezone.now()
    )


async def test_tabs_of_one_session_share_the_check_and_the_log_row(alice, clara, site_a, counted_checks):
    from tests.factories import staff

    clio = await database_sync_to_async(staff)("clio", "clinician", site_a)
    claras, clios = session_key_of(clara), session_key_of(clio)
    tabs = await tabs_of(claras, TABS) + await tabs_of(clios, 1)
    counted_checks.clear()  # the connects' own checks

    alert = await raise_alert(alice)
    for comm in tabs:
        assert (await comm.receive_json_from(timeout=5))["alert"]["id"] == alert.pk
    assert sorted(counted_checks) == sorted([claras, clios])
    rows = AccessLog.objects.filter(action=AccessAction.PUSH).values_list("accessor__username", "item")
    assert sorted(await database_sync_to_async(list)(rows)) == [
        ("clara", f"alert:{alert.pk}"),
        ("clio", f"alert:{alert.pk}"),
    ]
    for comm in tabs:
        await comm.disconnect()


async def test_a_shared_check_that_fails_closes_every_tab_and_sends_nothing(alice, clara, counted_checks):
    key = session_key_of(clara)
    tabs = await tabs_of(key, TABS)
    # The session ends without the close event (as if it were lost): only the re-check can notice.
    await database_sync_to_async(Session.objects.filter(session_key=key).delete)()
    counted_checks.clear()

    await raise_alert(alice)
    for comm in tabs:
        output = await comm.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": CLOSE_SESSION_ENDED}
    assert counted_checks == [key]
    assert not await database_sync_to_async(AccessLog.objects.filter(action=AccessAction.PUSH).exists)()
