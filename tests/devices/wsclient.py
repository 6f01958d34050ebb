"""Helpers for consumer tests: a connected device, and frames to send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from channels.testing import WebsocketCommunicator

from healthhub.asgi import application

PATH = "/ws/devices/v1/"


def communicator(token: str | None = None) -> WebsocketCommunicator:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token is not None else []
    return WebsocketCommunicator(application, PATH, headers=headers)


async def connected(token: str) -> WebsocketCommunicator:
    """A communicator past the welcome frame."""
    comm = communicator(token)
    ok, _ = await comm.connect()
    assert ok
    welcome = await comm.receive_json_from()
    assert welcome["type"] == "welcome"
    return comm


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(at: datetime) -> str:
    return at.isoformat()


def batch(seq: int, readings: list[dict]) -> dict:
    return {"type": "readings", "seq": seq, "sent_at": iso(now_utc()), "readings": readings}


def hr_series(n: int, start: datetime | None = None, metric: str = "heart_rate", value: float = 80) -> list[dict]:
    start = start or now_utc() - timedelta(minutes=5)
    return [{"metric": metric, "value": value + i % 5, "at": iso(start + timedelta(seconds=i))} for i in range(n)]


async def send(comm: WebsocketCommunicator, message: dict) -> dict:
    await comm.send_to(text_data=orjson.dumps(message).decode())
    return await comm.receive_json_from(timeout=5)
