"""Live alerts for browsers: a clinician's dashboard gets the alerts of
their sites, a worker's portal gets their own. Nobody else is accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from accounts.streams import RoleStreamConsumer
from healthhub.live import site_clinicians_group, worker_group
from healthhub.metrics import ALERT_DELIVERY_LATENCY
from workers.models import AccessOrigin


class AlertStreamConsumer(RoleStreamConsumer):
    site_group = staticmethod(site_clinicians_group)
    worker_group = staticmethod(worker_group)

    async def alert_changed(self, event: dict[str, Any]) -> None:
        # Re-checked by dispatch (accounts.sockets); a clinician's screen
        # showing a worker's alert is a read of that worker's health data.
        alert = event["alert"]
        await self.record_push(
            worker_id=alert["worker"],
            what="alert (live)",
            item=f"alert:{alert['id']}",
            origin=AccessOrigin.SOCKET_ALERTS,
        )
        await self.send(
            text_data=orjson.dumps({"type": "alert", "change": event["change"], "alert": event["alert"]}).decode()
        )
        changed_at = datetime.fromisoformat(event["alert"]["updated_at"])
        ALERT_DELIVERY_LATENCY.labels(change=event["change"]).observe(
            max(0.0, (datetime.now(UTC) - changed_at).total_seconds())
        )

    async def notice_posted(self, event: dict[str, Any]) -> None:
        # A site notice (insights) on the worker's own group: it names no one
        # and carries no health data, so nothing is logged. The payload is
        # forwarded as it is, so this app needs nothing from the one above.
        await self.send(text_data=orjson.dumps({"type": "notice", "notice": event["notice"]}).decode())
