"""Simulated wearables over real sockets: an asyncio ``websockets`` client.

``LoadPool`` starts a few load processes (``multiprocessing`` spawn, no
Django in them) and sends each the same command with its share of the
devices; every process runs one uvloop event loop holding its devices'
connections between commands, so a phase can connect, let the parent measure
the server, then run or close.

A device authenticates with ``Authorization: Bearer``, expects ``welcome``,
and sends ``readings`` batches whose readings all have distinct timestamps
(nothing is a duplicate), so after a phase the rows stored must equal the
readings acknowledged as accepted. Ack latency is measured from just before
the frame is written to the moment its ack is decoded, in the load process:
it includes the load process's own scheduling delay, which on a 2-core
machine shared with the server is part of what the report shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import random
import resource
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import orjson

# (metric, first value, spread): values stay inside the protocol's ranges.
_METRICS = [
    ("heart_rate", 62.0, 40),
    ("spo2", 95.0, 5),
    ("skin_temp", 33.0, 3),
    ("core_temp", 36.6, 1),
    ("resp_rate", 12.0, 8),
    ("hrv_rmssd", 30.0, 40),
    ("steps", 0.0, 30),
    ("ambient_temp", 24.0, 10),
    ("ambient_humidity", 40.0, 30),
    ("battery", 50.0, 50),
]
# Readings of one device are STEP_MS apart, so each has its own timestamp.
STEP_MS = 10


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass
class Session:
    device_id: int
    ws: Any
    seq: int = 0
    next_ms: int = 0
    pending: dict[int, float] = field(default_factory=dict)
    accepted: int = 0

    def frame(self, size: int) -> tuple[int, str]:
        self.seq += 1
        start = self.next_ms
        self.next_ms += size * STEP_MS
        readings = []
        for i in range(size):
            metric, low, spread = _METRICS[(self.seq + i) % len(_METRICS)]
            readings.append(
                {"metric": metric, "value": low + (self.seq * 7 + i) % spread, "at": _iso(start + i * STEP_MS)}
            )
        message = {"type": "readings", "seq": self.seq, "sent_at": _iso(int(time.time() * 1000)), "readings": readings}
        return self.seq, orjson.dumps(message).decode()


@dataclass
class RunStats:
    start_at: float
    latencies_ms: list[float] = field(default_factory=list)
    acked_batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    sent_batches: int = 0
    sent_readings: int = 0
    errors: Counter = field(default_factory=Counter)
    dropped: int = 0
    # accepted readings per second since start_at, by ack time
    per_second: Counter = field(default_factory=Counter)
    last_ack_at: float = 0.0


class LoadState:
    """One load process's devices and what they do on each command."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []

    async def connect(self, url: str, devices: list[list], concurrency: int, open_timeout: float) -> dict:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        sem = asyncio.Semaphore(concurrency)
        errors: Counter = Counter()
        connected: list[Session] = []

        async def one(device_id: int, token: str) -> None:
            async with sem:
                ws = None
                try:
                    ws = await connect(
                        url,
                        additional_headers={"Authorization": f"Bearer {token}"},
                        compression=None,  # a wearable's radio budget, and the server's memory
                        ping_interval=None,  # the server pings; the client answers by itself
                        proxy=None,
                        open_timeout=open_timeout,
                        close_timeout=5,
                        max_size=2**20,
                    )
                    welcome = orjson.loads(await asyncio.wait_for(ws.recv(), open_timeout))
                    if welcome.get("type") != "welcome":
                        errors[f"first frame {welcome.get('type')}"] += 1
                        await ws.close()
                        return
                    connected.append(Session(device_id, ws))
                except ConnectionClosed as exc:
                    errors[f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"] += 1
                except InvalidStatus as exc:
                    errors[f"http {exc.response.status_code}"] += 1
                except (OSError, TimeoutError) as exc:
                    errors[type(exc).__name__] += 1
                    if ws is not None:
                        ws.transport.abort()

        started = time.perf_counter()
        await asyncio.gather(*(one(device_id, token) for device_id, token in devices))
        self.sessions.extend(connected)
        return {
            "connected": len(connected),
            "failed": sum(errors.values()),
            "errors": dict(errors),
            "seconds": time.perf_counter() - started,
        }

    async def run(
        self,
        mode: str,
        start_at: float,
        duration: float,
        interval: float,
        in_flight: int,
        batch_size: int,
        base_ms: int,
        drain_timeout: float,
    ) -> dict:
        """Send batches for ``duration`` seconds from wall-clock ``start_at``.

        ``closed``: each device keeps ``in_flight`` batches unacknowledged and
        sends the next as soon as an ack comes back (throughput).
        ``open``: each device sends one batch every ``interval`` seconds from a
        random offset, whether or not acks have come back (latency).
        Then no new batches; outstanding acks are awaited up to ``drain_timeout``.
        """
        from websockets.exceptions import ConnectionClosed

        stats = RunStats(start_at=start_at)
        deadline = start_at + duration
        for session in self.sessions:
            session.next_ms = base_ms
            session.pending.clear()
            session.accepted = 0

        async def receiver(session: Session, credit: asyncio.Semaphore, drained: asyncio.Event) -> None:
            try:
                while True:
                    raw = await session.ws.recv()
                    now = time.perf_counter()
                    message = orjson.loads(raw)
                    seq = message.get("seq")
                    sent = session.pending.pop(seq, None)
                    kind = message.get("type")
                    if kind == "ack" and sent is not None:
                        stats.latencies_ms.append((now - sent) * 1000)
                        stats.acked_batches += 1
                        stats.accepted += message["accepted"]
                        stats.duplicates += message["duplicates"]
                        stats.rejected += len(message["rejected"])
                        session.accepted += message["accepted"]
                        wall = time.time()
                        stats.per_second[int(wall - start_at)] += message["accepted"]
                        stats.last_ack_at = wall
                    else:
                        stats.errors[f"{kind} {message.get('code', '')}".strip()] += 1
                    credit.release()
                    if not session.pending:
                        drained.set()
            except ConnectionClosed as exc:
                stats.dropped += 1
                stats.errors[f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"] += 1
                credit.release()  # wake a sender waiting for an ack that will never come
                drained.set()

        async def sender(session: Session) -> None:
            credit = asyncio.Semaphore(in_flight)
            drained = asyncio.Event()
            drained.set()
            reader = asyncio.create_task(receiver(session, credit, drained))
            try:
                await asyncio.sleep(max(0.0, start_at - time.time()))
                if mode == "open":
                    next_at = time.time() + random.uniform(0, interval)
                while not reader.done():
                    if mode == "open":
                        await asyncio.sleep(max(0.0, next_at - time.time()))
                        next_at += interval
                    else:
                        await credit.acquire()
                    if time.time() >= deadline or reader.done():
                        break
                    seq, text = session.frame(batch_size)
                    drained.clear()
                    session.pending[seq] = time.perf_counter()
                    try:
                        await session.ws.send(text)
                    except ConnectionClosed:
                        break
                    stats.sent_batches += 1
                    stats.sent_readings += batch_size
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drained.wait(), max(0.1, deadline + drain_timeout - time.time()))
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

        await asyncio.gather(*(sender(s) for s in self.sessions))
        unacked = sum(len(s.pending) for s in self.sessions)
        return {
            "latencies_ms": stats.latencies_ms,
            "acked_batches": stats.acked_batches,
            "accepted": stats.accepted,
            "duplicates": stats.duplicates,
            "rejected": stats.rejected,
            "sent_batches": stats.sent_batches,
            "sent_readings": stats.sent_readings,
            "unacked_batches": unacked,
            "errors": dict(stats.errors),
            "dropped": stats.dropped,
            "per_second": dict(stats.per_second),
            "last_ack_at": stats.last_ack_at,
            "accepted_by_device": {s.device_id: s.accepted for s in self.sessions},
        }

    async def ping(self, wait: float) -> dict:
        """How many connections still answer a WebSocket ping."""

        async def one(session: Session) -> bool:
            try:
                waiter = await session.ws.ping()
                await asyncio.wait_for(waiter, wait)
            except Exception:
                return False
            return True

        results = await asyncio.gather(*(one(s) for s in self.sessions))
        return {"alive": sum(results), "dead": len(results) - sum(results)}

    async def close(self, concurrency: int = 500) -> dict:
        sem = asyncio.Semaphore(concurrency)

        async def one(session: Session) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.ws.close(), 5)
                if session.ws.transport is not None:
                    session.ws.transport.abort()

        count = len(self.sessions)
        await asyncio.gather(*(one(s) for s in self.sessions))
        self.sessions.clear()
        return {"closed": count}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    state = LoadState()
    try:
        while True:
            command, kwargs = await loop.run_in_executor(None, conn.recv)
            if command == "exit":
                break
            cpu = _cpu()
            try:
                result = await getattr(state, command)(**kwargs)
            except Exception as exc:  # reported to the parent, which fails the phase
                result = {"exception": repr(exc)}
            result["cpu_seconds"] = _cpu() - cpu
            conn.send(result)
    finally:
        await state.close()


def worker_main(conn: Connection) -> None:
    """Entry point of one load process."""
    # Ctrl-C reaches the whole terminal's process group; the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from bench.procs import raise_nofile_limit

    raise_nofile_limit()
    try:
        import uvloop

        uvloop.run(_serve(conn))
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        asyncio.run(_serve(conn))


class LoadError(RuntimeError):
    pass


class LoadPool:
    """The load processes, driven in lockstep from the parent."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(child,), name=f"bench-load-{index}", daemon=True)
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def split(self, items: list) -> list[list]:
        return [items[i :: len(self.conns)] for i in range(len(self.conns))]

    def call(self, command: str, kwargs_each: list[dict], timeout: float) -> list[dict]:
        for conn, kwargs in zip(self.conns, kwargs_each, strict=True):
            conn.send((command, kwargs))
        deadline = time.monotonic() + timeout
        results = []
        for conn in self.conns:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise LoadError(f"load process did not finish {command!r} within {timeout:.0f} s")
            result = conn.recv()
            if "exception" in result:
                raise LoadError(f"load process failed in {command!r}: {result['exception']}")
            results.append(result)
        return results

    def call_all(self, command: str, timeout: float, **kwargs: Any) -> list[dict]:
        return self.call(command, [kwargs] * len(self.conns), timeout)

    def shutdown(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError, BrokenPipeError):
                conn.send(("exit", {}))
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
