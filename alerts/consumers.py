"""Live alerts for browsers: a clinician's dashboard gets the alerts of
their sites, a worker's portal gets their own. Nobody else is accepted."""

from __future__ import annotations

from typing import Any

import orjson

from accounts.streams import RoleStreamConsumer
from healthhub.live import site_clinicians_group, worker_group


class AlertStreamConsumer(RoleStreamConsumer):
    site_group = staticmethod(site_clinicians_group)
    worker_group = staticmethod(worker_group)

    async def alert_changed(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=orjson.dumps({"type": "alert", "change": event["change"], "alert": event["alert"]}).decode()
        )
