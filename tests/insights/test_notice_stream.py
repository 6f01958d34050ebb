"""A new outbreak notice reaches the open Today page of the site's workers
over the alert stream, and nobody else's."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async

from insights.services import notices_post
from tests.sockets import browser_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SEOUL = ZoneInfo("Asia/Seoul")


@database_sync_to_async
def post_notice(site):
    # Outside a transaction the after-commit push runs at once.
    return notices_post(
        site=site, days={date(2026, 11, 25)}, today=date(2026, 11, 25), now=datetime(2026, 11, 25, 12, tzinfo=SEOUL)
    )


async def test_the_notice_reaches_the_sites_workers_live_and_no_one_else(alice, charlie, clara, site_a):
    mine, theirs, clinician = (browser_socket("/ws/alerts/", u) for u in (alice.user, charlie.user, clara))
    for comm in (mine, theirs, clinician):
        assert (await comm.connect())[0]
    [notice] = await post_notice(site_a)
    message = await mine.receive_json_from(timeout=3)
    assert message == {
        "type": "notice",
        "notice": {"id": notice.pk, "day": "2026-11-25", "expires_at": notice.expires_at.isoformat()},
    }
    assert await theirs.receive_nothing(timeout=0.2)
    assert await clinician.receive_nothing(timeout=0.2)  # the workers' notice, not the clinicians' stream
    for comm in (mine, theirs, clinician):
        await comm.disconnect()
