"""healthhub.layers: a Redis outage pauses a consumer's channel instead of
ending it, and is logged once. On a redis-server of the test's own (a free
port), killed and started again; skipped where redis-server is missing."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time

import pytest

from healthhub.layers import OUTAGE, ResilientRedisChannelLayer
from tests.live import free_port

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to start a Redis of its own"),
]


class OwnRedis:
    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "PING"], capture_output=True, text=True)
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis_server(tmp_path):
    server = OwnRedis(tmp_path)
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
