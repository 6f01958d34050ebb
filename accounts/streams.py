"""One-way live streams for browsers (alerts, consultation lists): a
clinician follows their sites, a worker themself, nobody else is accepted."""

from __future__ import annotations

from collections.abc import Callable

import orjson
from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser

from accounts.sockets import CLOSE_FORBIDDEN, SessionBoundConsumer
from healthhub.layers import LAYER_ERRORS
from workers.models import StaffRole
from workers.roles import sites_for_role, worker_of

__all__ = ["CLOSE_FORBIDDEN", "RoleStreamConsumer", "groups_for"]


def groups_for(user, site_group: Callable[[int], str], worker_group: Callable[[int], str]) -> list[str]:
    """The groups ``user`` may follow (the rule of
    workers.selectors.workers_health_visible_to: clinicians by site, a
    worker for themself)."""
    site_ids = sites_for_role(user, StaffRole.CLINICIAN).values_list("pk", flat=True)
    groups = [site_group(pk) for pk in site_ids]
    worker = worker_of(user)
    if worker is not None:
        groups.append(worker_group(worker.pk))
    return groups


class RoleStreamConsumer(SessionBoundConsumer):
    """Subclasses name their group functions; events go out as the
    subclass's handlers send them, through ``push``, which re-checks the
    session and the groups first. Actions go through the pages and the API."""

    site_group: Callable[[int], str]
    worker_group: Callable[[int], str]
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        try:
            user = await self.bind_session()
        except LAYER_ERRORS:
            await self.refuse_for_outage()
            return
        if user is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        groups = await database_sync_to_async(groups_for)(user, type(self).site_group, type(self).worker_group)
        if not groups:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except LAYER_ERRORS:
            await self.refuse_for_outage()
            return
        self.groups_joined = groups
        await self.accept()
        self.watch_session()

    def still_allowed(self, user: AbstractBaseUser) -> bool:
        # Every group joined at connect must still be the user's: a clinician
        # taken off a site stops hearing it (one given a site more hears it
        # after reconnecting, which the role-change event makes them do).
        return set(self.groups_joined) <= set(groups_for(user, type(self).site_group, type(self).worker_group))

    def push_check_key(self) -> tuple:
        # The rule is about the groups joined: dashboards of one session
        # that joined the same groups share a push's check.
        return tuple(self.groups_joined)

    async def disconnect(self, code: int) -> None:
        await self.unbind_session()
        await self.leave_groups(self.groups_joined)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # One-way: whatever a browser sends is answered, never acted on or
        # silently dropped, and the connection stays.
        await self.send(
            text_data=orjson.dumps(
                {"type": "error", "code": "one_way", "detail": "this socket only sends; act through the API"}
            ).decode()
        )
