"""Live alerts for browsers: a clinician's dashboard gets the alerts of
their sites, a worker's portal gets their own. Nobody else is accepted."""

from __future__ import annotations

from typing import Any

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from healthhub.live import site_clinicians_group, worker_group
from healthhub.roles import sites_for_role, worker_of
from workers.models import StaffRole

CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _groups_for(user) -> list[str]:
    """The groups whose alerts ``user`` may receive (the same rule as
    workers.selectors.workers_health_visible_to: clinicians by site, a
    worker for themself)."""
    groups = [
        site_clinicians_group(pk) for pk in sites_for_role(user, StaffRole.CLINICIAN).values_list("pk", flat=True)
    ]
    worker = worker_of(user)
    if worker is not None:
        groups.append(worker_group(worker.pk))
    return groups


class AlertStreamConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        groups = await _groups_for(user)
        if not groups:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The stream is one-way; actions go through the JSON API.
        return

    async def alert_changed(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=orjson.dumps({"type": "alert", "change": event["change"], "alert": event["alert"]}).decode()
        )
