"""healthhub.layers: a Redis outage pauses a consumer's channel instead of
ending it, and is logged once. On a redis-server of the test's own (a free
port), killed and started again; skipped where redis-server is missing."""

from __future__ import annotations

import asyncio
import logging
import shutil

import pytest

from healthhub.layers import OUTAGE, ResilientRedisChannelLayer
from tests.live import RedisServer

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to start a Redis of its own"),
]


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    OUTAGE.down = False
    yield server
    server.kill()
    OUTAGE.down = False


async def test_an_outage_is_one_lost_event_then_restored_and_traffic_goes_on(redis_server, caplog):
    caplog.set_level(logging.INFO, logger="healthhub.layers")
    layer = ResilientRedisChannelLayer(
        hosts=[{"address": f"redis://127.0.0.1:{redis_server.port}/0", "socket_connect_timeout": 1}]
    )
    channel = await layer.new_channel()
    await layer.group_add("devices", channel)
    await layer.group_send("devices", {"type": "device.revoked"})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "device.revoked"}

    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.2)
    redis_server.kill()
    # channels-redis would raise here, and Channels would end the consumer.
    assert await asyncio.wait_for(receiving, 20) == {"type": "layer.lost"}
    waiting = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(1.0)
    assert not waiting.done()  # no event while Redis is down, and no exception either
    redis_server.start()  # without persistence: the group is gone
    assert await asyncio.wait_for(waiting, 10) == {"type": "layer.restored"}
    await layer.group_add("devices", channel)  # what a consumer does on restoration
    await layer.group_send("devices", {"type": "device.revoked"})
    assert await asyncio.wait_for(layer.receive(channel), 10) == {"type": "device.revoked"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("Redis is unreachable or refuses commands") for m in messages) == 1
    assert sum(m == "Redis answers again: live events resume" for m in messages) == 1
    await layer.flush()
