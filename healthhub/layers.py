"""A Redis channel layer that survives Redis going away.

channels-redis raises from ``receive`` when Redis is unreachable or refuses
a command, and Channels then ends the consumer, so every socket of the
process drops at once: devices stop being acknowledged although the database
is up. With this layer a consumer's receive never raises for Redis: it gets
one ``layer.lost`` event when the outage starts (for its channel), then
``layer.restored`` once Redis answers again (its groups may be gone: a
Redis restarted without persistence forgets them), and its traffic goes on
in between. ``OutageHandlers`` gives browser streams the handlers to close
with a clear code (1013, try again later) so that they reconnect and reload
what they missed; the device socket stays open and joins its group again.

The log says one line when an outage starts and one when it ends, per
process. A connection that broke is closed, never handed out again (redis-py
drops a connection on error; ``health_check_interval`` in the settings
checks idle ones before use).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Close code for a browser stream whose live events stopped: "try again later".
CLOSE_TRY_AGAIN = 1013
RETRY_MIN_S = 0.25
RETRY_MAX_S = 2.0


class _Outage:
    """Per process: whether Redis is known to be failing, logged once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down = False

    def started(self, exc: BaseException) -> None:
        with self.lock:
            if self.down:
                return
            self.down = True
        log.error("Redis is unreachable or refuses commands (%s): live events paused, ingestion goes on", exc)

    def ended(self) -> None:
        with self.lock:
            if not self.down:
                return
            self.down = False
        log.warning("Redis answers again: live events resume")


OUTAGE = _Outage()
LAYER_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class ResilientRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lost: set[str] = set()

    async def receive(self, channel: str) -> dict[str, Any]:
        if channel in self._lost:
            await self._wait_for_redis(channel)
            self._lost.discard(channel)
            return {"type": "layer.restored"}
        try:
            return await super().receive(channel)
        except LAYER_ERRORS as exc:
            OUTAGE.started(exc)
            self._lost.add(channel)
            return {"type": "layer.lost"}
        except asyncio.CancelledError:
            self._lost.discard(channel)
            raise

    async def _wait_for_redis(self, channel: str) -> None:
        delay = RETRY_MIN_S
        index = self.consistent_hash(channel)
        while True:
            try:
                await asyncio.sleep(delay)
                connection = self.connection(index)
                # A write, not a PING: Redis may answer while refusing writes.
                await connection.set(f"{self.prefix}:alive", 1, ex=10)
            except LAYER_ERRORS:
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            except asyncio.CancelledError:
                self._lost.discard(channel)
                raise
            OUTAGE.ended()
            return


class OutageHandlers(AsyncWebsocketConsumer):
    """Handlers of the layer's outage events for browser streams: close with
    1013 when live events stop, so that the page reconnects (with backoff)
    and reloads what it missed once Redis is back."""

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.close_sent = True
        await super().close(code=code, reason=reason)

    async def layer_lost(self, event: dict[str, Any]) -> None:
        # The stream may have closed already (refused at connect for the same outage).
        if not getattr(self, "close_sent", False):
            await self.close(code=CLOSE_TRY_AGAIN)

    async def layer_restored(self, event: dict[str, Any]) -> None:
        return
