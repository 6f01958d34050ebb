"""The wearable ingestion endpoint, ``/ws/devices/v1/`` (docs/device-protocol.md).

Each connection handles its frames one at a time, in order: a batch is
validated and committed by the process's group commit (devices.ingestion),
and only then acknowledged, so the event loop never blocks and an ack always
means stored.

The channel layer (Redis) only carries events to the device (revocation,
consent withdrawn, alert frames): while it is down the socket stays open and
batches go on being stored and acknowledged; the device's group is joined
again in the background when Redis is back (healthhub.layers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from devices import protocol
from devices.ingestion import RATE_BUCKETS, DeviceLogin, Refusal, batch_writer, device_authenticate
from devices.protocol import FrameError, Limits
from devices.services import IncomingBatch
from healthhub.layers import LAYER_ERRORS
from healthhub.live import device_group
from healthhub.logs import bind_device
from healthhub.metrics import ACK_LATENCY

log = logging.getLogger(__name__)

_authenticate = database_sync_to_async(device_authenticate)
# A group call waits this long for Redis before the device is let in without
# it (and the call is retried in the background).
LAYER_CALL_TIMEOUT_S = 2.0
LAYER_RETRY_MAX_S = 5.0


class DeviceConsumer(AsyncWebsocketConsumer):
    device_id: int | None = None
    serial: str = ""
    worker_id: int | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first closes stale database connections, a hop
        # to the one thread-sensitive thread, for every frame of every
        # connection. This consumer touches the database only through
        # database_sync_to_async, which does that cleanup itself around each
        # call, so the hop per frame buys nothing and costs a third of the
        # event loop's time under load.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.limits = Limits.from_settings()
        self.conf = settings.DEVICE_PROTOCOL
        self.hello_timer: asyncio.Task | None = None
        self.last_touch = 0.0
        self.rate_strikes = 0
        self.rejoin: asyncio.Task | None = None
        token = _bearer_token(self.scope)
        # The protocol's close codes (4401, 4403) can only reach a client
        # after the handshake, so a bad header token is accepted and closed
        # at once, with nothing sent in between.
        await self.accept()
        if token is not None:
            await self._login(token)
        else:
            self.hello_timer = asyncio.create_task(self._hello_deadline())

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(self.conf["HELLO_TIMEOUT_S"])
        if self.device_id is None:
            await self.close(code=protocol.CLOSE_HELLO_TIMEOUT)

    async def _login(self, token: str) -> None:
        login = await _authenticate(token)
        if isinstance(login, Refusal):
            code = protocol.CLOSE_UNAUTHENTICATED if login is Refusal.UNAUTHENTICATED else protocol.CLOSE_FORBIDDEN
            await self.close(code=code)
            return
        assert isinstance(login, DeviceLogin)
        self.device_id, self.serial, self.worker_id = login.device_id, login.serial, login.worker_id
        bind_device(login.serial)  # this socket's log records name the device from here on
        self.last_touch = time.monotonic() - self.conf["TOUCH_INTERVAL_S"]  # first batch touches
        RATE_BUCKETS.open(login.device_id, self.conf["RATE_PER_S"], self.conf["RATE_BURST"])
        if not await self._join_group():
            self._rejoin_later()
        await self._send(protocol.welcome_message(login.serial, timezone.now(), self.limits))

    async def _join_group(self) -> bool:
        """Join the device's group; False if Redis did not let us in time.
        Storage does not depend on it: only revocations and alert frames do."""
        try:
            async with batch_writer().layer_calls:
                await asyncio.wait_for(
                    self.channel_layer.group_add(device_group(self.device_id), self.channel_name),
                    LAYER_CALL_TIMEOUT_S,
                )
        except LAYER_ERRORS:
            return False
        return True

    def _rejoin_later(self) -> None:
        if self.rejoin is None or self.rejoin.done():
            self.rejoin = asyncio.create_task(self._rejoin())

    async def _rejoin(self) -> None:
        delay = 0.5
        while not await self._join_group():
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAYER_RETRY_MAX_S)

    async def disconnect(self, code: int) -> None:
        if self.hello_timer is not None:
            self.hello_timer.cancel()
        if self.rejoin is not None:
            self.rejoin.cancel()
        if self.device_id is not None:
            RATE_BUCKETS.close(self.device_id)
            try:
                async with batch_writer().layer_calls:
                    await asyncio.wait_for(
                        self.channel_layer.group_discard(device_group(self.device_id), self.channel_name),
                        LAYER_CALL_TIMEOUT_S,
                    )
            except LAYER_ERRORS:
                pass  # the membership expires in Redis on its own

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else bytes_data or b""
        try:
            message = protocol.decode_frame(raw, self.limits)
        except FrameError as exc:
            if self.device_id is None:
                # Before authentication the only acceptable frame is hello.
                await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            else:
                await self._send(exc.as_message())
            return
        if self.device_id is None:
            await self._receive_unauthenticated(message)
            return
        if not self._within_rate():
            if self.rate_strikes >= self.conf["RATE_CLOSE_AFTER"]:
                await self.close(code=protocol.CLOSE_TOO_MANY_FRAMES)
            else:
                await self._send(
                    FrameError(
                        protocol.RATE_LIMITED, "too many frames; slow down", protocol.frame_seq(message)
                    ).as_message()
                )
            return
        kind = message["type"]
        if kind == "readings":
            await self._receive_readings(message)
        elif kind == "hello":
            await self._send(FrameError(protocol.BAD_SCHEMA, "already authenticated").as_message())
        else:
            await self._send(
                FrameError(
                    protocol.UNKNOWN_TYPE, f"unknown message type {kind!r}", protocol.frame_seq(message)
                ).as_message()
            )

    async def _receive_unauthenticated(self, message: dict[str, Any]) -> None:
        token = message.get("token")
        if message["type"] != "hello" or not isinstance(token, str):
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        if self.hello_timer is not None:
            self.hello_timer.cancel()
            self.hello_timer = None
        await self._login(token)

    def _within_rate(self) -> bool:
        if RATE_BUCKETS.take(self.device_id):
            self.rate_strikes = 0
            return True
        self.rate_strikes += 1
        return False

    async def _receive_readings(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        touch = now - self.last_touch >= self.conf["TOUCH_INTERVAL_S"]
        try:
            ack, active = await batch_writer().receive(
                IncomingBatch(device_id=self.device_id, worker_id=self.worker_id, message=message, touch=touch)
            )
        except FrameError as exc:
            await self._send(exc.as_message())
            return
        except DatabaseError:
            # Nothing was acknowledged; closing makes the device reconnect and
            # re-send the batch, which is the protocol's recovery path.
            log.exception("storing a batch from device %s failed", self.serial)
            await self.close(code=1011)
            return
        if touch:
            self.last_touch = now
        await self._send(ack)
        ACK_LATENCY.observe(time.monotonic() - now)
        if not active:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self.send(text_data=protocol.encode(message))
        except RuntimeError as exc:
            # The server closed the socket while this frame was being
            # handled (a keepalive ping that an overloaded device answered
            # too late: 1011): the device re-sends what it did not get an
            # ack for, and storage is idempotent. Any other misuse still raises.
            if "after sending 'websocket.close'" not in str(exc):
                raise
            log.info("device %s: socket closed before its %s frame could be sent", self.serial, message.get("type"))

    # --- channel-layer events -------------------------------------------
    async def layer_lost(self, event: dict[str, Any]) -> None:
        return  # Redis is down: batches go on being stored and acknowledged

    async def layer_restored(self, event: dict[str, Any]) -> None:
        # A Redis restarted without persistence has forgotten the groups.
        if self.device_id is not None:
            self._rejoin_later()

    async def device_revoked(self, event: dict[str, Any]) -> None:
        await self.close(code=protocol.CLOSE_UNAUTHENTICATED)

    async def device_consent_withdrawn(self, event: dict[str, Any]) -> None:
        # The worker withdrew consent: monitoring stops now (4403, as at login).
        await self.close(code=protocol.CLOSE_FORBIDDEN)

    async def device_reassigned(self, event: dict[str, Any]) -> None:
        # 1012 (service restart): reconnect, and get the new assignment.
        await self.close(code=1012)

    async def alert_push(self, event: dict[str, Any]) -> None:
        await self._send(
            protocol.alert_message(event["id"], event["kind"], event["severity"], event["action"], event["message"])
        )


def _bearer_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
            return ""  # a malformed header is a bad token, not a missing one
    return None
