"""The wearable ingestion endpoint, ``/ws/devices/v1/`` (docs/device-protocol.md).

Each connection handles its frames one at a time, in order: a batch is
validated and committed in a worker thread (``database_sync_to_async``), and
only then acknowledged, so the event loop never blocks and an ack always
means stored.

The batches of all the connections of a process are written together
(``_BatchWriter``): a few groups are committed at once, each by its own
thread; batches that arrive while all of them are busy wait, and the next
free writer takes them all, one transaction for all. A commit costs a few
round trips to PostgreSQL whatever its size, so under load the cost per
batch falls as the groups grow, and when idle a batch waits for nothing but
its own commit. Acknowledged still means committed, and storage stays
idempotent (devices.services.readings_store_many).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from devices import protocol
from devices.protocol import FrameError, Limits
from devices.selectors import device_by_token
from devices.services import IncomingBatch, batches_receive, evaluations_request
from healthhub.live import device_group
from healthhub.logs import bind_device
from healthhub.metrics import ACK_LATENCY
from workers.selectors import worker_has_consent

log = logging.getLogger(__name__)

# One bucket per device in this process, shared by all of its connections so
# that opening several does not multiply the limit; dropped with the last one.
_buckets: dict[int, protocol.TokenBucket] = {}
_bucket_users: dict[int, int] = {}


@database_sync_to_async
def _authenticate(token: str) -> tuple[int, str, int | None] | None:
    device = device_by_token(token)
    if device is None:
        return None
    worker_id = device.worker_id
    if worker_id is not None and not worker_has_consent(worker_id):
        worker_id = None  # no consent to monitoring: refused as an unassigned device is (4403)
    return device.pk, device.serial, worker_id


# A group holds at most this many readings (the batches that wait beyond it
# go in the next group), which bounds a transaction's size and duration.
GROUP_MAX_READINGS = 5000
# Groups committed at once per process, each by its own thread and database
# connection: while one waits for PostgreSQL (its INSERT, its commit's WAL
# flush), another is built or executed. The Django pool (DATABASE_POOL_MAX)
# must allow this many connections and a few more.
WRITERS = 4
# Concurrent channel-layer calls per process. channels-redis gives each
# process a pool of 100 Redis connections and fails a call beyond that, so
# thousands of devices (re)connecting at once must queue, not fail.
LAYER_CALLS_MAX = 50

_writer_threads = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="ingest")
_evaluation_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-evaluations")


def _in_thread(service: Any, executor: ThreadPoolExecutor) -> Any:
    """``service`` run by one of ``executor``'s threads, its database
    connection given back to the pool (or closed) after each call: the
    threads outlive the calls."""

    def call(**kwargs: Any) -> Any:
        try:
            return service(**kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(call, thread_sensitive=False, executor=executor)


_receive_many = _in_thread(batches_receive, _writer_threads)
_request_evaluations_inline = _in_thread(evaluations_request, _writer_threads)
_request_evaluations = _in_thread(evaluations_request, _evaluation_thread)


class _BatchWriter:
    """The batches of one event loop's connections, committed in groups
    (and the limit on that loop's concurrent channel-layer calls).

    A batch that arrives while fewer than WRITERS groups are being committed
    starts a group of its own at once; otherwise it waits, with every other
    batch that arrives meanwhile, for the next writer to be free, and they
    are committed together. Each batch's future gets what ``batches_receive``
    says of it, after the commit.

    The alert evaluations that new readings call for are requested once
    their acks are out, by one task per process that takes every worker
    waiting for a request at once (a worker in several groups meanwhile is
    requested once). With a broker a request is a cache round trip and
    sometimes an enqueue, which need not delay an ack: the readings are
    committed either way. With Celery eager (the embedded default and the
    tests) a request runs the evaluation itself, so it comes before the acks
    and in the writer, as batch_receive does.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[IncomingBatch, asyncio.Future]] = []
        self.writers = 0
        self.tasks: set[asyncio.Task] = set()
        self.to_evaluate: set[int] = set()
        self.urgent: set[int] = set()  # of to_evaluate, those with an SOS or a fall
        self.evaluating = False
        self.layer_calls = asyncio.Semaphore(LAYER_CALLS_MAX)

    async def receive(self, batch: IncomingBatch) -> tuple[dict, bool]:
        """The batch's ack and whether its device is still active, once it is
        committed; raises FrameError or DatabaseError as batch_receive does."""
        future = self.loop.create_future()
        self.waiting.append((batch, future))
        if self.writers < WRITERS:
            self.writers += 1
            self._spawn(self._write())
        return await future

    def _spawn(self, coroutine: Any) -> None:
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)  # a reference, so that the task is not collected mid-way
        task.add_done_callback(self.tasks.discard)

    def _next_group(self) -> list[tuple[IncomingBatch, asyncio.Future]]:
        size = 0
        for taken, (batch, _) in enumerate(self.waiting):
            readings = batch.message.get("readings")
            size += len(readings) if isinstance(readings, list) else 0
            if size > GROUP_MAX_READINGS and taken > 0:
                break
        else:
            taken = len(self.waiting)
        group, self.waiting = self.waiting[:taken], self.waiting[taken:]
        return group

    async def _write(self) -> None:
        try:
            while self.waiting:
                group = self._next_group()
                evaluate: set[int] = set()
                urgent: set[int] = set()
                try:
                    received = await _receive_many(batches=[b for b, _ in group], limits=Limits.from_settings())
                    results: list = received.results
                    evaluate, urgent = received.workers_to_evaluate, received.urgent_workers
                    if evaluate and settings.CELERY_TASK_ALWAYS_EAGER:
                        await _request_evaluations_inline(worker_ids=evaluate, urgent_ids=urgent)
                        evaluate = set()
                except asyncio.CancelledError:
                    for _, future in group:
                        future.cancel()
                    raise
                except Exception as exc:
                    results = [exc] * len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue  # the connection went away meanwhile; its batch is stored all the same
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                if evaluate:
                    self._evaluate(evaluate, urgent)
        finally:
            self.writers -= 1

    def _evaluate(self, worker_ids: set[int], urgent: set[int]) -> None:
        self.to_evaluate |= worker_ids
        self.urgent |= urgent
        if not self.evaluating:
            self.evaluating = True
            self._spawn(self._request_evaluations())

    async def _request_evaluations(self) -> None:
        try:
            while self.to_evaluate:
                worker_ids, self.to_evaluate = self.to_evaluate, set()
                urgent, self.urgent = self.urgent, set()
                await _request_evaluations(worker_ids=worker_ids, urgent_ids=urgent)
        finally:
            self.evaluating = False


_writer: _BatchWriter | None = None


def _batch_writer() -> _BatchWriter:
    """This process's writer (one per event loop: tests run one loop each)."""
    global _writer
    loop = asyncio.get_running_loop()
    if _writer is None or _writer.loop is not loop:
        _writer = _BatchWriter(loop)
    return _writer


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
        found = await _authenticate(token)
        if found is None:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        device_id, serial, worker_id = found
        if worker_id is None:
            await self.close(code=protocol.CLOSE_FORBIDDEN)
            return
        self.device_id, self.serial, self.worker_id = device_id, serial, worker_id
        bind_device(serial)  # this socket's log records name the device from here on
        self.last_touch = time.monotonic() - self.conf["TOUCH_INTERVAL_S"]  # first batch touches
        if device_id not in _buckets:
            _buckets[device_id] = protocol.TokenBucket(
                self.conf["RATE_PER_S"], self.conf["RATE_BURST"], time.monotonic()
            )
        _bucket_users[device_id] = _bucket_users.get(device_id, 0) + 1
        async with _batch_writer().layer_calls:
            await self.channel_layer.group_add(device_group(device_id), self.channel_name)
        await self._send(protocol.welcome_message(serial, timezone.now(), self.limits))

    async def disconnect(self, code: int) -> None:
        if self.hello_timer is not None:
            self.hello_timer.cancel()
        if self.device_id is not None:
            _bucket_users[self.device_id] -= 1
            if _bucket_users[self.device_id] <= 0:
                _bucket_users.pop(self.device_id, None)
                _buckets.pop(self.device_id, None)
            async with _batch_writer().layer_calls:
                await self.channel_layer.group_discard(device_group(self.device_id), self.channel_name)

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
        if _buckets[self.device_id].take(time.monotonic()):
            self.rate_strikes = 0
            return True
        self.rate_strikes += 1
        return False

    async def _receive_readings(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        touch = now - self.last_touch >= self.conf["TOUCH_INTERVAL_S"]
        try:
            ack, active = await _batch_writer().receive(
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
        await self.send(text_data=protocol.encode(message))

    # --- channel-layer events -------------------------------------------
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
