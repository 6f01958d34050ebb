"""Ingestion, apart from any socket: device authentication (one function for
the WebSocket and the HTTP fallback), the per-device rate buckets, and the
group commit of the batches of all connections of a process.

The batches of all the connections of a process are written together
(``BatchWriter``): a few groups are committed at once, each by its own
thread; batches that arrive while all of them are busy wait, and the next
free writer takes them all, one transaction for all. A commit costs a few
round trips to PostgreSQL whatever its size, so under load the cost per
batch falls as the groups grow, and when idle a batch waits for nothing but
its own commit. Acknowledged still means committed, and storage stays
idempotent (devices.services.readings_store_many).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from devices import protocol
from devices.protocol import Limits
from devices.selectors import device_by_token
from devices.services import IncomingBatch, batches_receive, evaluations_request
from workers.selectors import worker_has_consent


class Refusal(enum.Enum):
    """Why a device is not let in (the socket's close code, the HTTP status)."""

    UNAUTHENTICATED = "unauthenticated"  # no such token, or revoked: 4401 / 401
    UNASSIGNED = "unassigned"  # assigned to nobody: 4403 / 403
    NO_CONSENT = "no_consent"  # its worker has not consented to monitoring: 4403 / 403


@dataclass(frozen=True)
class DeviceLogin:
    device_id: int
    serial: str
    worker_id: int


def device_authenticate(token: str | None) -> DeviceLogin | Refusal:
    """The device a token lets in, or why not: the one check for the socket
    (hello or bearer header) and the HTTP fallback."""
    device = device_by_token(token or "")
    if device is None:
        return Refusal.UNAUTHENTICATED
    if device.worker_id is None:
        return Refusal.UNASSIGNED
    if not worker_has_consent(device.worker_id):
        return Refusal.NO_CONSENT  # no consent, no processing
    return DeviceLogin(device_id=device.pk, serial=device.serial, worker_id=device.worker_id)


class RateBuckets:
    """One token bucket per device in this process, shared by all of its
    connections so that opening several does not multiply the limit; dropped
    with the last connection."""

    def __init__(self) -> None:
        self.buckets: dict[int, protocol.TokenBucket] = {}
        self.users: dict[int, int] = {}

    def open(self, device_id: int, rate_per_s: float, burst: int) -> None:
        if device_id not in self.buckets:
            self.buckets[device_id] = protocol.TokenBucket(rate_per_s, burst, time.monotonic())
        self.users[device_id] = self.users.get(device_id, 0) + 1

    def close(self, device_id: int) -> None:
        self.users[device_id] = self.users.get(device_id, 1) - 1
        if self.users[device_id] <= 0:
            self.users.pop(device_id, None)
            self.buckets.pop(device_id, None)

    def take(self, device_id: int) -> bool:
        return self.buckets[device_id].take(time.monotonic())


RATE_BUCKETS = RateBuckets()


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

# One thread per writer: a writer keeps its thread's database connection
# while it has groups to commit (see _Writer).
_writer_threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ingest-{n}") for n in range(WRITERS)]
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


@dataclass(eq=False)
class _Writer:
    """One writer's thread, and what it runs there.

    The writer keeps its thread's database connection from one group to
    the next while batches keep coming, and for a moment after the last
    (settings.INGESTION_KEEP_CONNECTION_S), then gives it back to the pool:
    taking one and giving it back cost every group commit a health-check
    round trip and a few per cent of a server process. A connection an
    error left broken is closed at once (``batches_receive`` has already
    reconnected before retrying a failed group batch by batch), so the next
    group takes a fresh one."""

    thread: ThreadPoolExecutor
    turns: int = 0  # how many times it has been taken: an idle check of an older turn is stale

    def receive(self, **kwargs: Any) -> Any:
        def call() -> Any:
            try:
                return batches_receive(**kwargs)
            finally:
                _close_if_broken()

        return sync_to_async(call, thread_sensitive=False, executor=self.thread)()

    def request_evaluations(self, **kwargs: Any) -> Any:
        return _in_thread(evaluations_request, self.thread)(**kwargs)

    def idle(self) -> None:
        with contextlib.suppress(RuntimeError):  # the interpreter is shutting down
            self.thread.submit(close_old_connections)


def _close_if_broken() -> None:
    if connection.connection is None or not connection.errors_occurred:
        return
    if connection.in_atomic_block or not connection.is_usable():
        connection.close()
    else:
        connection.errors_occurred = False


_request_evaluations = _in_thread(evaluations_request, _evaluation_thread)


class BatchWriter:
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
    committed either way. Routine requests are held for
    ALERTS["ROUTINE_HOLD_MS"] so that they travel together: an evaluation
    task costs mostly its dozen queries, whatever its number of workers. A
    batch with an SOS or a fall ends the hold at once. With Celery eager
    (the embedded default and the tests) a request runs the evaluation
    itself, so it comes before the acks and in the writer, as batch_receive
    does.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[IncomingBatch, asyncio.Future]] = []
        self.free = [_Writer(thread) for thread in _writer_threads]
        self.tasks: set[asyncio.Task] = set()
        self.to_evaluate: set[int] = set()
        self.urgent: set[int] = set()  # of to_evaluate, those with an SOS or a fall
        self.evaluating = False
        self.urgent_came = asyncio.Event()  # ends the routine requests' hold
        self.layer_calls = asyncio.Semaphore(LAYER_CALLS_MAX)

    async def receive(self, batch: IncomingBatch) -> tuple[dict, bool]:
        """The batch's ack and whether its device is still active, once it is
        committed; raises FrameError or DatabaseError as batch_receive does."""
        future = self.loop.create_future()
        self.waiting.append((batch, future))
        if self.free:
            writer = self.free.pop()
            writer.turns += 1
            self._spawn(self._write(writer))
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

    async def _write(self, writer: _Writer) -> None:
        try:
            while self.waiting:
                group = self._next_group()
                evaluate: set[int] = set()
                urgent: set[int] = set()
                try:
                    received = await writer.receive(batches=[b for b, _ in group], limits=Limits.from_settings())
                    results: list = received.results
                    evaluate, urgent = received.workers_to_evaluate, received.urgent_workers
                    if evaluate and settings.CELERY_TASK_ALWAYS_EAGER:
                        await writer.request_evaluations(worker_ids=evaluate, urgent_ids=urgent)
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
            self.free.append(writer)
            keep = settings.INGESTION_KEEP_CONNECTION_S
            if keep > 0:
                self.loop.call_later(keep, self._idle, writer, writer.turns)
            else:
                writer.idle()

    def _idle(self, writer: _Writer, turn: int) -> None:
        if writer.turns == turn and writer in self.free:
            writer.idle()

    def _evaluate(self, worker_ids: set[int], urgent: set[int]) -> None:
        self.to_evaluate |= worker_ids
        self.urgent |= urgent
        if urgent:
            self.urgent_came.set()
        if not self.evaluating:
            self.evaluating = True
            self._spawn(self._request_evaluations())

    async def _request_evaluations(self) -> None:
        hold = settings.ALERTS["ROUTINE_HOLD_MS"] / 1000
        try:
            while self.to_evaluate:
                if not self.urgent and hold > 0:
                    # Routine requests wait a moment for others, so that one
                    # task carries many workers; an SOS or a fall ends it.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.urgent_came.wait(), hold)
                self.urgent_came.clear()
                worker_ids, self.to_evaluate = self.to_evaluate, set()
                urgent, self.urgent = self.urgent, set()
                await _request_evaluations(worker_ids=worker_ids, urgent_ids=urgent)
        finally:
            self.evaluating = False


_writer: BatchWriter | None = None


def batch_writer() -> BatchWriter:
    """This process's writer (one per event loop: tests run one loop each)."""
    global _writer
    loop = asyncio.get_running_loop()
    if _writer is None or _writer.loop is not loop:
        _writer = BatchWriter(loop)
    return _writer
