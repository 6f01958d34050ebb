"""Simulated wearables speaking device protocol v1 over real WebSockets.

``Simulator`` drives many devices from one asyncio loop; each device samples
its wearer's physiology (``simulation.physiology``, a pure model) every
``interval`` seconds, batches the readings and delivers them with the
protocol's semantics (docs/device-protocol.md):

- every batch is kept until an ``ack`` with its ``seq`` arrives;
- after a reconnect all unacknowledged batches are sent again (what waits
  is coalesced into frames of at most ``max_batch`` readings, so a backlog
  goes up in a few frames rather than tripping the server's rate limit);
- reconnects back off exponentially with jitter; close codes 4401 and 4403
  stop the device, 4429 backs off longer, anything else reconnects.

It records, per device, every reading sent and every reading acknowledged
(accepted or duplicate), reconnects and ack latencies, so tests and the
benchmark can check "a reading acknowledged is a reading stored".

Used by ``manage.py simulate_wearables``, ``manage.py demo``, the tests and
the benchmark. It does not touch the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, MutableSequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.uri import parse_uri

from devices import protocol
from healthhub.stats import percentile
from simulation.physiology import Episode, Phase, Physiology, Scenario, WorkerProfile, phase_at

log = logging.getLogger(__name__)

MIXED = "mixed"  # one of each scenario, in Scenario order, for the first K workers
DEFAULT_MAX_BATCH = 500  # until the server's welcome says otherwise


class SentReading(NamedTuple):
    """A reading as the device sent it; (serial, metric, at_ms) is its identity."""

    metric: str
    at_ms: int
    value: float


@dataclass(frozen=True)
class DeviceSpec:
    """A device to simulate: its credentials and, optionally, who wears it."""

    serial: str
    token: str
    employee_number: str = ""
    birth_year: int | None = None
    shift_pattern: str | None = None
    crew: int | None = None
    heat_exposed: bool | None = None


class DevicesFileError(Exception):
    """The devices file is missing, unreadable or too short."""


def load_device_specs(path: str | os.PathLike[str], count: int | None = None) -> list[DeviceSpec]:
    """The first ``count`` devices (all when None) of a devices file written
    by ``manage.py seed_demo``: a JSON list of {serial, token, employee_number,
    ...}. Raises DevicesFileError with a message fit for the user."""
    path = Path(path)
    hint = "run `python manage.py seed_demo` first (it writes this file)"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DevicesFileError(f"devices file {path} does not exist; {hint}") from None
    except (OSError, ValueError) as exc:
        raise DevicesFileError(f"cannot read devices file {path}: {exc}; {hint}") from None
    if not isinstance(raw, list) or not all(
        isinstance(item, dict) and isinstance(item.get("serial"), str) and isinstance(item.get("token"), str)
        for item in raw
    ):
        raise DevicesFileError(f"devices file {path} is not a list of {{serial, token, ...}} objects; {hint}")
    if count is not None and len(raw) < count:
        raise DevicesFileError(
            f"devices file {path} lists {len(raw)} devices but {count} were asked for; "
            f"ask for fewer, or run `python manage.py seed_demo --workers {count}`"
        )
    return [
        DeviceSpec(
            serial=item["serial"],
            token=item["token"],
            employee_number=str(item.get("employee_number", "")),
            birth_year=item.get("birth_year") if isinstance(item.get("birth_year"), int) else None,
            shift_pattern=item.get("shift_pattern") if isinstance(item.get("shift_pattern"), str) else None,
            crew=item.get("crew") if isinstance(item.get("crew"), int) else None,
            heat_exposed=item.get("heat_exposed") if isinstance(item.get("heat_exposed"), bool) else None,
        )
        for item in (raw if count is None else raw[:count])
    ]


@dataclass
class DeviceStats:
    """What one simulated device did. ``sent`` and ``acked`` are kept only
    when the simulator records readings (tests, benchmark); the counters
    always are."""

    serial: str
    scenario: str | None = None
    sent: set[SentReading] = field(default_factory=set)
    acked: set[SentReading] = field(default_factory=set)  # accepted or duplicate
    rejected: dict[SentReading, str] = field(default_factory=dict)  # reading -> reason
    readings_sent: int = 0  # distinct readings, each counted on its first send
    readings_acked: int = 0
    readings_resent: int = 0
    accepted: int = 0  # the server's counts from the acks
    duplicates: int = 0
    frames_sent: int = 0
    batches_acked: int = 0
    batches_dropped: int = 0  # refused by an error frame that resending cannot fix
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # Seconds from the (last) send of a batch to its ack; only the most recent
    # ones when readings are not recorded, so that a day-long demo stays small.
    ack_latencies: MutableSequence[float] = field(default_factory=list)
    stopped: str | None = None  # why the server sent this device away for good
    signal_lost: bool = False


@dataclass
class _Batch:
    seq: int
    readings: list[SentReading]
    sent_before: int = 0  # how many of these readings went out in an earlier frame
    generation: int = -1  # the connection it was last sent on; -1: not yet
    sent_at: float = 0.0  # loop time of the last send


@dataclass(frozen=True)
class SimulationReport:
    devices: int
    connected: int
    readings_sent: int
    readings_acked: int
    readings_resent: int
    accepted: int
    duplicates: int
    rejected: int
    pending_batches: int
    reconnects: int
    connect_failures: int
    alerts: int
    errors: dict[str, int]
    stopped: dict[str, str]
    signal_lost: list[str]
    ack_p50_ms: float | None
    ack_p95_ms: float | None
    ack_max_ms: float | None

    def line(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}"

        text = (
            f"{self.connected}/{self.devices} connected · readings sent {self.readings_sent}, "
            f"acked {self.readings_acked} (new {self.accepted}, dup {self.duplicates}), "
            f"rejected {self.rejected}, waiting batches {self.pending_batches} · reconnects {self.reconnects} · "
            f"ack p50 {ms(self.ack_p50_ms)} ms, p95 {ms(self.ack_p95_ms)} ms · alerts {self.alerts}"
        )
        if self.stopped:
            text += f" · stopped {len(self.stopped)}"
        if self.signal_lost:
            text += f" · signal lost {len(self.signal_lost)}"
        return text


class SimulatedDevice:
    """One wearable: a sampling loop feeding a connection loop."""

    def __init__(self, spec: DeviceSpec, model: Physiology, sim: Simulator, net_rng: random.Random) -> None:
        self.spec = spec
        self.model = model
        self.sim = sim
        self.rng = net_rng  # jitter only: keeps the physiology reproducible whatever the network does
        self.stats = DeviceStats(serial=spec.serial, scenario=model.episode.scenario if model.episode else None)
        if not sim.record_readings:
            self.stats.ack_latencies = deque(maxlen=10_000)
        self.connected = False
        self.pending: dict[int, _Batch] = {}  # seq -> batch, oldest first
        self._buffer: list[SentReading] = []
        self._samples_in_buffer = 0
        self._next_seq = 1
        self._generation = 0
        self._last_at_ms = 0
        self._max_batch = DEFAULT_MAX_BATCH
        self._failures = 0  # consecutive failed connections, for the backoff
        self._pause_until = 0.0  # after rate_limited errors
        self._rate_pause = sim.backoff_initial
        self._wake = asyncio.Event()
        self._producing = True
        self._closing = asyncio.Event()
        self._bucket = protocol.TokenBucket(sim.max_frames_per_s, sim.frame_burst, time.monotonic())

    # -- state the simulator asks about ----------------------------------------
    @property
    def done(self) -> bool:
        """Nothing more will be delivered: sent away, out of signal, or closed."""
        return self.stats.stopped is not None or self.stats.signal_lost or self._closing.is_set()

    @property
    def idle(self) -> bool:
        """Everything produced has been acknowledged, or never will be."""
        return self.done or (not self.pending and not self._buffer)

    def stop_producing(self) -> None:
        self._producing = False
        self._flush_buffer()
        self._wake.set()

    def close(self) -> None:
        self._producing = False
        self._closing.set()
        self._wake.set()

    # -- producing ---------------------------------------------------------------
    async def produce(self, start_delay: float) -> None:
        """Sample every ``interval`` seconds (of the loop's clock), timestamping
        with the wall clock, until told to stop."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + start_delay
        while self._producing and not self.done:
            delay = next_tick - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                if not self._producing or self.done:
                    break
            wall = self.sim.clock()
            sample = self.model.sample(datetime.fromtimestamp(wall, UTC))
            if not sample.transmitting:
                self._lose_signal()
                return
            at_ms = max(int(wall * 1000), self._last_at_ms + 1)  # identity is (metric, at): never reuse one
            self._last_at_ms = at_ms
            self._buffer.extend(SentReading(m, at_ms, v) for m, v in sample.values.items())
            self._samples_in_buffer += 1
            if self._samples_in_buffer >= self.sim.batch_size:
                self._flush_buffer()
            next_tick += self.sim.interval
            if next_tick < loop.time():
                # Fell behind (a stalled loop): skip the missed ticks rather than
                # sampling in a burst with timestamps a few microseconds apart.
                next_tick = loop.time() + self.sim.interval

    def _flush_buffer(self) -> None:
        if not self._buffer:
            return
        readings, self._buffer, self._samples_in_buffer = self._buffer, [], 0
        for start in range(0, len(readings), self._max_batch):
            self._add_batch(readings[start : start + self._max_batch])
        self._wake.set()

    def _add_batch(self, readings: list[SentReading], sent_before: int = 0) -> _Batch:
        batch = _Batch(seq=self._next_seq, readings=readings, sent_before=sent_before)
        self._next_seq += 1
        self.pending[batch.seq] = batch
        return batch

    def _lose_signal(self) -> None:
        # The device goes quiet mid-connection, as a wearable out of range
        # does: no close frame, and no reconnecting. Unacknowledged batches
        # stay unacknowledged.
        self.stats.signal_lost = True
        self._producing = False
        self._wake.set()
        self.sim.progress.set()
        log.info("device %s: signal lost (scenario); it stays disconnected", self.spec.serial)

    # -- connecting ---------------------------------------------------------------
    async def run(self, start_delay: float) -> None:
        """Produce and deliver until closed, sent away (4401/4403) or out of signal."""
        producer = asyncio.create_task(self.produce(start_delay))
        try:
            await self._wait(start_delay)
            while not self.done:
                code = await self._connect_once()
                if self.done:
                    break
                if code in (protocol.CLOSE_UNAUTHENTICATED, protocol.CLOSE_FORBIDDEN):
                    meaning = "unauthenticated or revoked" if code == protocol.CLOSE_UNAUTHENTICATED else "forbidden"
                    self.stats.stopped = f"closed {code} ({meaning})"
                    log.warning("device %s: server closed with %s (%s); stopping it", self.spec.serial, code, meaning)
                    break
                self._failures += 1
                delay = self._backoff()
                if code == protocol.CLOSE_TOO_MANY_FRAMES:
                    delay = max(delay, self.sim.rate_limited_backoff * self.rng.uniform(1.0, 1.5))
                await self._wait(delay)
        finally:
            self._producing = False
            self.sim.progress.set()
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    def _backoff(self) -> float:
        # Exponential with "equal jitter": at least half the step, so a crowd
        # of devices spreads out but none hammers a server that is down.
        step = min(self.sim.backoff_max, self.sim.backoff_initial * 2 ** min(self._failures - 1, 20))
        return step / 2 + self.rng.uniform(0, step / 2)

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def _connect_once(self) -> int | None:
        """One connection from handshake to close; returns the close code
        (None when the connection could not be opened)."""
        try:
            ws = await connect(
                self.sim.url,
                additional_headers={"Authorization": f"Bearer {self.spec.token}"},
                open_timeout=self.sim.connect_timeout,
                close_timeout=2,
                # Frames are small JSON; deflate would cost more CPU than it saves here.
                compression=None,
                # Never route a device through an HTTP proxy from the environment.
                proxy=None,
                user_agent_header="healthhub-simulator/1",
            )
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self.stats.connect_failures += 1
            level = logging.WARNING if self.stats.connect_failures == 1 else logging.DEBUG
            log.log(level, "device %s: cannot connect to %s: %s", self.spec.serial, self.sim.url, exc)
            return None
        try:
            return await self._session(ws)
        finally:
            self.connected = False
            if ws.close_code is None:
                await ws.close()
            self.stats.close_codes.append(ws.close_code)

    async def _session(self, ws: ClientConnection) -> int | None:
        try:
            first = await asyncio.wait_for(ws.recv(), self.sim.connect_timeout)
            welcome = orjson.loads(first)
        except ConnectionClosed:
            return ws.close_code
        except (TimeoutError, orjson.JSONDecodeError):
            log.warning("device %s: no welcome from the server", self.spec.serial)
            return None
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            log.warning("device %s: expected a welcome, got %r", self.spec.serial, welcome)
            return None
        if isinstance(welcome.get("max_batch"), int) and welcome["max_batch"] > 0:
            self._max_batch = welcome["max_batch"]
        self._generation += 1
        self.connected = True
        self.stats.connections += 1
        if self.stats.connections > 1:
            self.stats.reconnects += 1
        receiver = asyncio.create_task(self._receive(ws))
        sender = asyncio.create_task(self._send_loop(ws, self._generation))
        done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if sender in done and not sender.cancelled() and sender.exception() is None:
            reason = sender.result()
            if reason == "signal_lost":
                ws.transport.abort()
            else:
                if reason == "ack_timeout":
                    log.warning("device %s: no ack for %.0f s; reconnecting", self.spec.serial, self.sim.ack_timeout)
                await ws.close()
        # Let the receiver see the close frame (or the error) before reading the code.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(receiver), 3)
        for task in (receiver, sender):
            task.cancel()
        for outcome in await asyncio.gather(receiver, sender, return_exceptions=True):
            # A dropped connection is routine; anything else is a bug to surface.
            if isinstance(outcome, Exception) and not isinstance(outcome, ConnectionClosed | asyncio.CancelledError):
                raise outcome
        return ws.close_code

    # -- sending -------------------------------------------------------------------
    async def _send_loop(self, ws: ClientConnection, generation: int) -> str:
        """Send whatever waits, paced; returns why it stopped sending."""
        loop = asyncio.get_running_loop()
        while True:
            if self._closing.is_set():
                return "closing"
            if self.stats.signal_lost:
                return "signal_lost"
            self._wake.clear()
            now = loop.time()
            waiting = [b for b in self.pending.values() if b.generation != generation]
            if waiting and now >= self._pause_until and self._bucket.take(time.monotonic()):
                batch = self._next_frame(waiting)
                await self._send(ws, batch, generation, now)
                continue
            if waiting:
                # Paused or out of frame budget: try again shortly.
                wait = max(self._pause_until - now, 1 / self.sim.max_frames_per_s)
            else:
                wait = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            in_flight = [b.sent_at for b in self.pending.values() if b.generation == generation]
            if in_flight and loop.time() - min(in_flight) > self.sim.ack_timeout:
                return "ack_timeout"

    def _next_frame(self, waiting: list[_Batch]) -> _Batch:
        """The next frame to send: the oldest waiting batch, coalesced with the
        ones after it up to ``max_batch`` readings when there is a backlog."""
        if len(waiting) == 1 and len(waiting[0].readings) <= self._max_batch:
            return waiting[0]
        taken: list[_Batch] = []
        readings: list[SentReading] = []
        for batch in waiting:
            if taken and len(readings) + len(batch.readings) > self._max_batch:
                break
            taken.append(batch)
            readings.extend(batch.readings)
        if len(taken) == 1 and len(readings) <= self._max_batch:
            return taken[0]
        for batch in taken:
            del self.pending[batch.seq]
        sent_before = sum(b.sent_before for b in taken)
        # A batch larger than the server's max_batch (it lowered the limit
        # since it was made) is split; the rest waits as a batch of its own.
        if len(readings) > self._max_batch:
            rest = readings[self._max_batch :]
            readings = readings[: self._max_batch]
            self._add_batch(rest, sent_before=min(sent_before, len(rest)))
            sent_before = min(sent_before, len(readings))
        return self._add_batch(readings, sent_before=sent_before)

    async def _send(self, ws: ClientConnection, batch: _Batch, generation: int, now: float) -> None:
        frame = {
            "type": "readings",
            "seq": batch.seq,
            "sent_at": datetime.now(self.sim.tz).isoformat(timespec="milliseconds"),
            "readings": [{"metric": r.metric, "value": r.value, "at": r.at_ms} for r in batch.readings],
        }
        batch.generation = generation
        batch.sent_at = now
        stats = self.stats
        stats.frames_sent += 1
        stats.readings_resent += batch.sent_before
        stats.readings_sent += len(batch.readings) - batch.sent_before
        batch.sent_before = len(batch.readings)
        if self.sim.record_readings:
            stats.sent.update(batch.readings)
        await ws.send(orjson.dumps(frame).decode())

    # -- receiving -----------------------------------------------------------------
    async def _receive(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                try:
                    message = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    log.warning("device %s: server sent a frame that is not JSON", self.spec.serial)
                    continue
                if isinstance(message, dict):
                    self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ack":
            self._on_ack(message)
        elif kind == "error":
            self._on_error(message)
        elif kind == "alert":
            self.stats.alerts.append(message)
            if self.sim.on_alert is not None:
                self.sim.on_alert(self.spec.serial, message)
        else:
            log.debug("device %s: ignoring a %r frame", self.spec.serial, kind)

    def _on_ack(self, message: dict[str, Any]) -> None:
        batch = self.pending.pop(message.get("seq"), None)  # type: ignore[arg-type]
        if batch is None or batch.generation != self._generation:
            if batch is not None:
                self.pending[batch.seq] = batch
            log.debug("device %s: ack for unknown seq %r", self.spec.serial, message.get("seq"))
            return
        stats = self.stats
        rejected = {
            r.get("index"): r.get("reason", "")
            for r in message.get("rejected") or []
            if isinstance(r, dict) and isinstance(r.get("index"), int)
        }
        stats.batches_acked += 1
        stats.accepted += int(message.get("accepted") or 0)
        stats.duplicates += int(message.get("duplicates") or 0)
        stats.readings_acked += len(batch.readings) - len(rejected)
        stats.ack_latencies.append(asyncio.get_running_loop().time() - batch.sent_at)
        if self.sim.record_readings:
            for index, reading in enumerate(batch.readings):
                if index in rejected:
                    stats.rejected[reading] = str(rejected[index])
                else:
                    stats.acked.add(reading)
        elif rejected:
            for index, reason in rejected.items():
                if 0 <= index < len(batch.readings):
                    stats.rejected[batch.readings[index]] = str(reason)
        # The connection works: the next failure starts the backoff afresh.
        self._failures = 0
        self._rate_pause = self.sim.backoff_initial
        self._wake.set()
        self.sim.progress.set()

    def _on_error(self, message: dict[str, Any]) -> None:
        code = str(message.get("code"))
        self.stats.errors[code] += 1
        batch = self.pending.get(message.get("seq")) if isinstance(message.get("seq"), int) else None
        if code == protocol.RATE_LIMITED:
            # Not stored: send it again after a pause that grows while the
            # server keeps refusing.
            if batch is not None:
                batch.generation = -1
            self._pause_until = asyncio.get_running_loop().time() + self._rate_pause
            self._rate_pause = min(self.sim.backoff_max, self._rate_pause * 2)
            return
        if batch is not None:
            # The server will never take this frame as it is (bad_schema,
            # too_large...): keeping it would resend it forever.
            del self.pending[batch.seq]
            self.stats.batches_dropped += 1
            self.sim.progress.set()
        log.warning("device %s: server error %s: %s", self.spec.serial, code, message.get("detail"))


ON_SHIFT = frozenset({Phase.WORK, Phase.BREAK})


def scenario_for(index: int, scenario: str | None, scenario_workers: int) -> Scenario | None:
    """The scripted episode of the ``index``-th device (0-based): the first
    ``scenario_workers`` get ``scenario`` (with MIXED, one of each in turn)."""
    if not scenario or index >= scenario_workers:
        return None
    if scenario == MIXED:
        kinds = list(Scenario)
        return kinds[index % len(kinds)]
    return Scenario(scenario)


class Simulator:
    """Many simulated wearables against one server.

    ``devices`` are DeviceSpec or (serial, token) pairs. ``interval`` is the
    sampling period in seconds and ``batch_size`` how many samples go in one
    batch (1: a batch per interval). Scripted episodes: ``scenario`` (a
    Scenario value or "mixed") for the first ``scenario_workers`` devices,
    starting ``scenario_after`` seconds into the run and reaching full
    strength after ``scenario_ramp`` seconds. ``seed`` makes the physiology
    reproducible. ``record_readings`` keeps the sets of readings sent and
    acknowledged per device (turn it off for long runs).
    """

    def __init__(
        self,
        url: str,
        devices: Iterable[DeviceSpec | tuple[str, str]],
        *,
        interval: float = 2.0,
        batch_size: int = 1,
        scenario: str | None = None,
        scenario_workers: int = 1,
        scenario_after: float = 0.0,
        scenario_ramp: float = 120.0,
        seed: int = 0,
        tz: str = "Asia/Seoul",
        record_readings: bool = True,
        max_frames_per_s: float = 5.0,
        frame_burst: int = 10,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rate_limited_backoff: float = 10.0,
        ack_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        drain_timeout: float = 10.0,
        on_alert: Callable[[str, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"not a WebSocket URL: {url!r} ({exc})") from None
        if interval < 0.01:
            raise ValueError("interval must be at least 0.01 s")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if scenario and scenario != MIXED:
            Scenario(scenario)  # ValueError for an unknown one
        self.url = url
        self.interval = interval
        self.batch_size = batch_size
        self.seed = seed
        self.tz = ZoneInfo(tz)
        self.record_readings = record_readings
        self.max_frames_per_s = max_frames_per_s
        self.frame_burst = frame_burst
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rate_limited_backoff = rate_limited_backoff
        self.ack_timeout = ack_timeout
        self.connect_timeout = connect_timeout
        self.drain_timeout = drain_timeout
        self.on_alert = on_alert
        self.clock = clock
        self._stop = asyncio.Event()
        # Set by a device whenever it may have become idle (an ack, a drop,
        # a stop), so that draining waits on events rather than polling.
        self.progress = asyncio.Event()
        specs = [d if isinstance(d, DeviceSpec) else DeviceSpec(serial=d[0], token=d[1]) for d in devices]
        if len({s.serial for s in specs}) != len(specs):
            raise ValueError("device serials must be unique")
        start = datetime.fromtimestamp(clock(), UTC)
        self.devices: list[SimulatedDevice] = []
        rngs: list[random.Random] = []
        profiles: list[WorkerProfile] = []
        for spec in specs:
            # String seeds are hashed with SHA-512, so this is stable across runs.
            rng = random.Random(f"{seed}:{spec.serial}")
            now_year = start.astimezone(self.tz).year
            rngs.append(rng)
            profiles.append(
                WorkerProfile.random(
                    rng,
                    age=now_year - spec.birth_year if spec.birth_year else None,
                    shift_pattern=spec.shift_pattern,
                    crew=spec.crew,
                    heat_exposed=spec.heat_exposed,
                )
            )
        # Scripted episodes go to workers who are on shift when they start:
        # the platform judges some of them (signal loss, rest breaks) only
        # for a worker at work, and a clinician watches the shift anyway.
        episode_at = (start + timedelta(seconds=scenario_after)).astimezone(self.tz)
        order = sorted(
            range(len(specs)),
            key=lambda i: phase_at(profiles[i].shift_pattern, profiles[i].crew, episode_at) not in ON_SHIFT,
        )
        rank = {index: position for position, index in enumerate(order)}
        for index, spec in enumerate(specs):
            rng, profile = rngs[index], profiles[index]
            kind = scenario_for(rank[index], scenario, scenario_workers)
            episode = (
                Episode(kind, start + timedelta(seconds=scenario_after), timedelta(seconds=scenario_ramp))
                if kind
                else None
            )
            model = Physiology(profile, rng, tz=self.tz, episode=episode)
            net_rng = random.Random(f"{seed}:{spec.serial}:net")
            self.devices.append(SimulatedDevice(spec, model, self, net_rng))

    def stop(self) -> None:
        """Ask ``run`` to finish early (as at the end of its duration)."""
        self._stop.set()

    async def run(self, duration: float | None = None) -> SimulationReport:
        """Run every device for ``duration`` seconds (until ``stop()`` when
        None), then wait up to ``drain_timeout`` for outstanding acks, close
        the connections and return the report."""
        tasks = [
            asyncio.create_task(self._run_device(device), name=f"device-{device.spec.serial}")
            for device in self.devices
        ]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
            for device in self.devices:
                device.stop_producing()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.drain_timeout
            while not all(device.idle for device in self.devices):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self.progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.progress.wait(), remaining)
        finally:
            for device in self.devices:
                device.close()
            _, unfinished = await asyncio.wait(tasks, timeout=5)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.report()

    async def _run_device(self, device: SimulatedDevice) -> None:
        # Devices start spread over one interval so that a crowd of them
        # does not connect and send in lockstep.
        try:
            await device.run(device.rng.uniform(0, self.interval))
        except Exception as exc:
            # A bug in one simulated device must not end the run for the others;
            # it is logged with its traceback and shows in the report.
            log.exception("device %s crashed", device.spec.serial)
            device.stats.stopped = f"crashed: {exc!r}"

    def report(self) -> SimulationReport:
        """Totals over all devices, as of now."""
        all_stats = [d.stats for d in self.devices]
        latencies = [x for s in all_stats for x in s.ack_latencies]
        errors: Counter[str] = Counter()
        for s in all_stats:
            errors.update(s.errors)

        def ms(value: float | None) -> float | None:
            return None if value is None else value * 1000

        return SimulationReport(
            devices=len(self.devices),
            connected=sum(d.connected for d in self.devices),
            readings_sent=sum(s.readings_sent for s in all_stats),
            readings_acked=sum(s.readings_acked for s in all_stats),
            readings_resent=sum(s.readings_resent for s in all_stats),
            accepted=sum(s.accepted for s in all_stats),
            duplicates=sum(s.duplicates for s in all_stats),
            rejected=sum(len(s.rejected) for s in all_stats),
            pending_batches=sum(len(d.pending) for d in self.devices),
            reconnects=sum(s.reconnects for s in all_stats),
            connect_failures=sum(s.connect_failures for s in all_stats),
            alerts=sum(len(s.alerts) for s in all_stats),
            errors=dict(errors),
            stopped={s.serial: s.stopped for s in all_stats if s.stopped},
            signal_lost=[s.serial for s in all_stats if s.signal_lost],
            ack_p50_ms=ms(percentile(latencies, 50)),
            ack_p95_ms=ms(percentile(latencies, 95)),
            ack_max_ms=ms(max(latencies) if latencies else None),
        )
