"""Alert latency and fan-out on the production topology.

Run as ``python -m bench.alerts [--quick]``. The script starts everything it
measures, only on 127.0.0.1, and stops it at the end (also on failure or
Ctrl-C): a fresh PostgreSQL database (dropped, re-created, migrated), a
flushed Redis database, uvicorn (``--workers 2``) and two Celery workers as
compose.yaml runs them, one for the urgent queue alone and one for both (no
beat: it is off when REDIS_URL is set).

1. End-to-end alert latency under load: N simulated wearables (default
   1,000; one ``websockets`` client each, 25 heart-rate readings every 2 s
   (``--batch-every``),
   in a separate load process) while probe wearables of the same site press
   SOS one after another; measured from sending the SOS frame to the
   clinician dashboard (``/ws/alerts/``, session cookie) receiving the
   "opened" alert for that worker, and to the clinician's phone receiving
   the Web Push message about it: the clinician is on call and has a phone
   subscribed at a local push service in this process, which checks the
   VAPID signature and decrypts each message (tests/alerts/push_receiver.py),
   so the whole path (escalation step 0, the notification row, the urgent
   queue, encryption, the HTTP post) is timed. Each probe is a worker of its
   own, so each SOS opens a new alert. The probes' acknowledgement latency is
   recorded too.
2. Fan-out: 10, 100 and 500 dashboards open on the site (one clinician
   session shared by all), K SOS probes each, without device load: deliveries
   counted per dashboard and alert, and the delivery latency.

Prints a table (targets met or missed) and writes var/bench-alerts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.procs import Proc, Supervisor, raise_nofile_limit
from bench.run import start_celery
from healthhub.serve import uvicorn_command
from healthhub.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGET_P50_MS = 250.0
TARGET_P99_MS = 1000.0
TARGET_PUSH_P99_MS = 2000.0


def log(message: str) -> None:
    print(f"[bench.alerts {time.strftime('%H:%M:%S')}] {message}", flush=True)


class BenchError(Exception):
    pass


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "max_ms": max(values) if values else None,
    }


# --- setup (runs in a subprocess with Django set up on the bench database) ------


def setup_data(devices: int, probes: int, out: Path) -> None:
    from bench.provision import provision

    records = provision(devices + probes)  # django.setup() happens in there

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from devices.models import Device
    from workers.models import Site, StaffProfile, StaffRole

    site = Site.objects.get(code="bench")
    worker_of = dict(Device.objects.filter(pk__in=[r["id"] for r in records]).values_list("pk", "worker_id"))
    for record in records:
        record["worker"] = worker_of[record["id"]]
    user = get_user_model().objects.create_user(username="bench-clinician", password=None)
    profile = StaffProfile.objects.create(user=user, role=StaffRole.CLINICIAN)
    profile.sites.add(site)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    from tests.faults.people import on_call_with_a_phone

    on_call_with_a_phone(
        user, site, os.environ["BENCH_PUSH_ENDPOINT"], os.environ["BENCH_PUSH_P256DH"], os.environ["BENCH_PUSH_AUTH"]
    )
    out.write_text(
        json.dumps(
            {
                "site": site.pk,
                "load": records[:devices],
                "probes": records[devices:],
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            }
        )
    )
    os.chmod(out, 0o600)


# --- load generator (a subprocess of its own, so it does not skew the timing) ---


def write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value))


async def run_load(tokens: list[str], url: str, duration: float, status_path: Path, every: float = 2.0) -> None:
    from websockets.asyncio.client import connect

    acks: list[float] = []
    stats = {"connected": 0, "failed": 0, "sent": 0, "acked": 0, "errors": 0, "closed": 0}
    gate = asyncio.Semaphore(50)
    stop_at = time.monotonic() + duration
    ready, settled = asyncio.Event(), asyncio.Event()

    def count(key: str) -> None:
        stats[key] += 1
        if stats["connected"] + stats["failed"] == len(tokens):
            settled.set()

    async def device(token: str) -> None:
        try:
            async with gate:
                ws = await connect(
                    url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None, open_timeout=30
                )
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if welcome.get("type") != "welcome":
                    raise BenchError(str(welcome))
        except Exception:
            count("failed")
            return
        count("connected")
        sent: dict[int, float] = {}

        async def reader() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "ack":
                    started = sent.pop(message.get("seq"), None)
                    if started is not None:
                        stats["acked"] += 1
                        acks.append((time.monotonic() - started) * 1000)
                elif message.get("type") == "error":
                    stats["errors"] += 1

        read_task = asyncio.create_task(reader())
        try:
            await ready.wait()
            await asyncio.sleep(random.uniform(0, 2))
            seq = 0
            while time.monotonic() < stop_at and not read_task.done():
                seq += 1
                now_ms = int(time.time() * 1000)
                readings = [
                    {"metric": "heart_rate", "value": random.randint(68, 82), "at": now_ms - (24 - j) * 80}
                    for j in range(25)
                ]
                sent[seq] = time.monotonic()
                await ws.send(json.dumps({"type": "readings", "seq": seq, "readings": readings}))
                stats["sent"] += 1
                await asyncio.sleep(every)
            await asyncio.sleep(1)  # the last acks
        except Exception:
            pass
        finally:
            if read_task.done():
                stats["closed"] += 1
            read_task.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

    async def report_status() -> None:
        # Written every second, so that the figures survive the process being stopped.
        while True:
            write_json(status_path, {"ready": ready.is_set(), **stats, "ack": summary(acks)})
            await asyncio.sleep(1)

    tasks = [asyncio.create_task(device(t)) for t in tokens]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), 90)
    ready.set()
    reporter = asyncio.create_task(report_status())
    await asyncio.gather(*tasks, return_exceptions=True)
    reporter.cancel()
    write_json(status_path, {"ready": True, "done": True, **stats, "ack": summary(acks)})


# --- the measuring side ------------------------------------------------------------


class Dashboard:
    """One clinician's /ws/alerts/ socket; records when each SOS alert opened."""

    def __init__(self) -> None:
        self.opened: dict[int, float] = {}  # worker id -> monotonic time received
        self.alert_ids: dict[int, int] = {}
        self.ws: Any = None
        self.task: asyncio.Task | None = None

    async def open(self, url: str, origin: str, cookie: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(url, origin=origin, additional_headers={"Cookie": cookie}, proxy=None, open_timeout=30)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                at = time.monotonic()
                message = json.loads(raw)
                alert = message.get("alert") or {}
                if message.get("change") == "opened" and alert.get("kind") == "sos":
                    self.opened.setdefault(alert["worker"], at)
                    self.alert_ids[alert["worker"]] = alert["id"]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)


class Probe:
    """A probe wearable: connects, sends one SOS frame, times its ack."""

    def __init__(self, record: dict) -> None:
        self.worker = record["worker"]
        self.token = record["token"]
        self.ws: Any = None
        self.sent_at: float | None = None
        self.ack_ms: float | None = None
        self.push_ms: float | None = None
        self.task: asyncio.Task | None = None

    async def connect(self, url: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            url, additional_headers={"Authorization": f"Bearer {self.token}"}, proxy=None, open_timeout=30
        )
        welcome = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        if welcome.get("type") != "welcome":
            raise BenchError(f"probe device refused: {welcome}")
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                at = time.monotonic()
                message = json.loads(raw)
                if self.sent_at is None:
                    continue
                if message.get("type") == "ack" and self.ack_ms is None:
                    self.ack_ms = (at - self.sent_at) * 1000
                elif message.get("type") == "alert" and message.get("kind") == "sos" and self.push_ms is None:
                    self.push_ms = (at - self.sent_at) * 1000

    async def sos(self) -> None:
        frame = json.dumps(
            {"type": "readings", "seq": 1, "readings": [{"metric": "sos", "value": 1, "at": int(time.time() * 1000)}]}
        )
        self.sent_at = time.monotonic()
        await self.ws.send(frame)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)


async def open_dashboards(count: int, url: str, origin: str, cookie: str) -> list[Dashboard]:
    gate = asyncio.Semaphore(25)
    boards = [Dashboard() for _ in range(count)]

    async def one(board: Dashboard) -> None:
        async with gate:
            await board.open(url, origin, cookie)

    results = await asyncio.gather(*(one(b) for b in boards), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        for board in boards:
            await board.close()
        raise BenchError(f"{len(failures)} of {count} dashboards failed to connect: {failures[0]!r}")
    await asyncio.sleep(1)  # the group_add of the last ones
    return boards


async def run_probes(
    probes: list[Probe], boards: list[Dashboard], device_url: str, interval: float, drain: float, pager: Any = None
) -> dict[str, Any]:
    """Each probe presses SOS once, ``interval`` apart; wait until every
    dashboard has every alert (and, with ``pager``, the on-call clinician's
    phone has a push about each) or ``drain`` seconds after the last."""
    await asyncio.gather(*(p.connect(device_url) for p in probes))
    for index, probe in enumerate(probes):
        if index:
            await asyncio.sleep(interval)
        await probe.sos()
    deadline = time.monotonic() + drain
    expected = len(probes) * len(boards)
    alert_of = {w: i for b in boards for w, i in b.alert_ids.items()}

    def pushed_at(probe: Probe) -> float | None:
        alert_id = alert_of.get(probe.worker)
        tag = f"alert-{alert_id}"
        return next((m.at for m in list(pager.received) if m.payload.get("tag") == tag), None) if alert_id else None

    while time.monotonic() < deadline:
        alert_of = {w: i for b in boards for w, i in b.alert_ids.items()}
        on_desks = sum(1 for b in boards for p in probes if p.worker in b.opened)
        if on_desks >= expected and (pager is None or all(pushed_at(p) for p in probes)):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # the probes' pushes
    phone = [(pushed_at(p) - p.sent_at) * 1000 for p in probes if pager is not None and pushed_at(p) and p.sent_at]
    latencies = [
        (b.opened[p.worker] - p.sent_at) * 1000 for b in boards for p in probes if p.worker in b.opened and p.sent_at
    ]
    for probe in probes:
        await probe.close()
    alert_ids = sorted({i for b in boards for i in b.alert_ids.values()})
    return {
        "probes": len(probes),
        "dashboards": len(boards),
        "expected": expected,
        "delivered": len(latencies),
        "latency": summary(latencies),
        "ack": summary([p.ack_ms for p in probes if p.ack_ms is not None]),
        "device_push": summary([p.push_ms for p in probes if p.push_ms is not None]),
        "phone_push": {**summary(phone), "pushed": len(phone)} if pager is not None else None,
        "alert_ids": alert_ids,
    }


# --- orchestration -------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="healthhub.settings",
        DATABASE_URL=f"{args.pg_url.rstrip('/')}/{args.db_name}",
        REDIS_URL=args.redis_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HEALTHHUB_REQUIRE_MFA="false",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_sub(argv: list[str], env: dict[str, str], timeout: float) -> None:
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv[1:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def recreate_database(
    args: argparse.Namespace, env: dict[str, str], data_path: Path, probes: int, setup_env: dict[str, str]
) -> dict:
    import psycopg
    import redis

    log(f"database {args.db_name}: drop, create, migrate; redis {args.redis_url}: flush")
    with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.db_name}"')
    redis.Redis.from_url(args.redis_url).flushdb()
    run_sub([str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], env, 180)
    log(f"provisioning {args.devices:,} load devices, {probes} probe devices and a clinician")
    run_sub(
        [
            sys.executable,
            "-m",
            "bench.alerts",
            "--setup",
            str(data_path),
            "--devices",
            str(args.devices),
            "--probes",
            str(probes),
        ],
        setup_env,
        120,
    )
    return json.loads(data_path.read_text())


def celery_queue(args: argparse.Namespace) -> int:
    """Tasks waiting in the Celery broker's default queue."""
    import redis

    return redis.Redis.from_url(args.redis_url).llen("celery")


def queue_drain(args: argparse.Namespace, timeout: float) -> float:
    """Wait until the Celery queue is empty (and its last tasks done); return the seconds it took."""
    started = time.monotonic()
    while celery_queue(args) and time.monotonic() - started < timeout:
        time.sleep(0.5)
    time.sleep(2)
    return round(time.monotonic() - started - 2, 1)


class LagSampler:
    """Evaluation lag (a batch's storage to the evaluation that covered it),
    read from the outbox (devices_evaluationdue) once a second: when a
    worker's ``evaluated_at`` moves on, the evaluation covered the
    ``pending_since`` seen at the poll before, and the lag is the difference.
    Covers every process (ASGI servers' requests, Celery workers), which a
    per-process histogram cannot; resolution about the poll interval for
    the pending mark, exact for the evaluation time."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pending: dict[int, Any] = {}
        self.evaluated: dict[int, Any] = {}
        self.lags: list[float] = []
        self.backlog: list[tuple[float, int, float]] = []  # (t, workers pending, oldest pending age s)
        self.stopping = False

    def poll(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT worker_id, pending_since, evaluated_at, now() FROM devices_evaluationdue"
            ).fetchall()
        oldest = 0.0
        pending = 0
        for worker_id, pending_since, evaluated_at, now in rows:
            before = self.evaluated.get(worker_id)
            seen = self.pending.get(worker_id)
            if evaluated_at is not None and evaluated_at != before and seen is not None and seen <= evaluated_at:
                self.lags.append((evaluated_at - seen).total_seconds())
            self.evaluated[worker_id] = evaluated_at
            self.pending[worker_id] = pending_since
            if pending_since is not None:
                pending += 1
                oldest = max(oldest, (now - pending_since).total_seconds())
        self.backlog.append((time.monotonic(), pending, round(oldest, 1)))

    async def run(self) -> None:
        while not self.stopping:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.poll)
            await asyncio.sleep(1.0)

    def report(self) -> dict[str, Any]:
        from alerts.lag import BUCKETS

        lags = self.lags
        histogram = {str(bound): sum(1 for lag in lags if lag <= bound) for bound in BUCKETS}
        return {
            "n": len(lags),
            "p50_s": percentile(lags, 50),
            "p95_s": percentile(lags, 95),
            "p99_s": percentile(lags, 99),
            "max_s": max(lags) if lags else None,
            "cumulative_histogram_s": histogram,
            "pending_at_end": self.backlog[-1][1] if self.backlog else None,
            "oldest_pending_at_end_s": self.backlog[-1][2] if self.backlog else None,
            "oldest_pending_max_s": max((b[2] for b in self.backlog), default=None),
        }


def wait_port(port: int, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited:\n{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise BenchError(f"{proc.name} did not listen on {port} within {timeout:.0f} s")


async def measure(
    args: argparse.Namespace, data: dict, sup: Supervisor, env: dict, data_path: Path, pager: Any
) -> dict:
    base = f"127.0.0.1:{args.port}"
    device_url, alerts_url, origin = f"ws://{base}/ws/devices/v1/", f"ws://{base}/ws/alerts/", f"http://{base}"
    cookie = data["cookie"]
    probe_records = list(data["probes"])
    result: dict[str, Any] = {}

    # Warm-up: the whole chain (device -> Celery -> channel layer -> dashboard) works.
    log("warm-up: one SOS through the whole chain")
    boards = await open_dashboards(1, alerts_url, origin, cookie)
    warm = await run_probes([Probe(probe_records.pop())], boards, device_url, 0, 60, pager)
    await boards[0].close()
    if warm["delivered"] != 1:
        raise BenchError("the warm-up SOS alert never reached the dashboard (is the Celery worker up?)")
    if warm["phone_push"]["pushed"] != 1:
        raise BenchError("the warm-up SOS alert never reached the on-call clinician's phone")
    log(f"warm-up alert after {warm['latency']['max_ms']:.0f} ms")

    # 1. Latency under load.
    status_path = data_path.with_name("bench-alerts-load.json")
    status_path.unlink(missing_ok=True)
    load_seconds = args.load_seconds or 120 + args.probes * args.interval  # stopped after the probes
    load = sup.start(
        "load",
        [
            sys.executable,
            "-m",
            "bench.alerts",
            "--load",
            str(data_path),
            "--url",
            device_url,
            "--duration",
            str(load_seconds),
            "--status",
            str(status_path),
            "--batch-every",
            str(args.batch_every),
        ],
        env,
    )
    log(f"load: connecting {args.devices:,} devices")
    deadline = time.monotonic() + 90
    while not (status_path.exists() and json.loads(status_path.read_text()).get("ready")):
        if not load.alive() or time.monotonic() > deadline:
            raise BenchError(f"the load generator did not get ready:\n{load.log_tail()}")
        await asyncio.sleep(0.5)
    load_status = json.loads(status_path.read_text())
    log(f"load: {load_status['connected']} connected, {load_status['failed']} failed; warming up 10 s")
    sampler = LagSampler(f"{args.pg_url.rstrip('/')}/{args.db_name}")
    sampling = asyncio.create_task(sampler.run())
    await asyncio.sleep(10)
    boards = await open_dashboards(1, alerts_url, origin, cookie)
    probes = [Probe(probe_records.pop()) for _ in range(args.probes)]
    log(f"latency: {args.probes} SOS probes, {args.interval:g} s apart, under load")
    latency = await run_probes(probes, boards, device_url, args.interval, 45, pager)
    await boards[0].close()
    # The load runs its full duration: the lag is measured over all of it.
    while load.alive():  # noqa: ASYNC110  (a process, not an event of this loop)
        await asyncio.sleep(1)
    queued = await asyncio.to_thread(celery_queue, args)
    sampler.stopping = True
    await sampling
    result["evaluation_lag"] = sampler.report()
    log(f"evaluation lag: {result['evaluation_lag']}")
    sup.stop(load, timeout=5)
    load_status = json.loads(status_path.read_text())
    load_status["celery_queue_at_end"] = queued
    log(f"load stopped with {queued} tasks in the Celery queue; letting it drain")
    drain_s = await asyncio.to_thread(queue_drain, args, 60)
    load_status["celery_drain_s"] = drain_s
    result["latency_under_load"] = {**latency, "load": load_status}
    alert_ids = list(latency["alert_ids"]) + warm["alert_ids"]

    # 2. Fan-out.
    result["fanout"] = []
    for level in args.fanout:
        log(f"fan-out: {level} dashboards, {args.fanout_alerts} SOS alerts")
        boards = await open_dashboards(level, alerts_url, origin, cookie)
        probes = [Probe(probe_records.pop()) for _ in range(args.fanout_alerts)]
        try:
            outcome = await run_probes(probes, boards, device_url, args.fanout_interval, 20)
        finally:
            await asyncio.gather(*(b.close() for b in boards))
        alert_ids += outcome["alert_ids"]
        shortfall = [i for i, b in enumerate(boards) if len(b.opened) < len(probes)]
        outcome["dashboards_short"] = len(shortfall)
        result["fanout"].append(outcome)
        log(f"fan-out {level}: {outcome['delivered']}/{outcome['expected']} delivered")
    result["alerts_opened"] = len(alert_ids)
    return result


def table(result: dict) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = []
    lat = result["latency_under_load"]
    s = lat["latency"]
    load = lat.get("load", {})
    lines.append(
        f"1. SOS -> dashboard under load ({load.get('connected', '?')} devices,"
        f" 25 readings / {result.get('batch_every_s', 2):g} s each;"
        f" {lat['delivered']}/{lat['probes']} probes delivered)"
    )
    lines.append(f"   {'figure':<34}{'measured':>12}  {'target':<10}result")
    p50_ok = s["p50_ms"] is not None and s["p50_ms"] < TARGET_P50_MS
    p99_ok = s["p99_ms"] is not None and s["p99_ms"] < TARGET_P99_MS and lat["delivered"] == lat["probes"]
    lines.append(f"   {'alert latency p50':<34}{ms(s['p50_ms']):>12}  {'< 250 ms':<10}{verdict(p50_ok)}")
    lines.append(f"   {'alert latency p95':<34}{ms(s['p95_ms']):>12}")
    lines.append(f"   {'alert latency p99':<34}{ms(s['p99_ms']):>12}  {'< 1 s':<10}{verdict(p99_ok)}")
    lines.append(f"   {'alert latency max':<34}{ms(s['max_ms']):>12}")
    a = lat["ack"]
    lines.append(f"   {'probe ack p50 / p95 / max':<34}{ms(a['p50_ms']):>12} / {ms(a['p95_ms'])} / {ms(a['max_ms'])}")
    ph = lat.get("phone_push") or {}
    if ph:
        push_ok = ph["p99_ms"] is not None and ph["p99_ms"] < TARGET_PUSH_P99_MS and ph["pushed"] == lat["probes"]
        lines.append(
            f"   {'SOS -> on-call phone (Web Push) p50':<34}{ms(ph['p50_ms']):>12}"
            f"  ({ph['pushed']}/{lat['probes']} pushed, decrypted by the local push service)"
        )
        lines.append(f"   {'SOS -> on-call phone p95':<34}{ms(ph['p95_ms']):>12}")
        lines.append(f"   {'SOS -> on-call phone p99':<34}{ms(ph['p99_ms']):>12}  {'< 2 s':<10}{verdict(push_ok)}")
        lines.append(f"   {'SOS -> on-call phone max':<34}{ms(ph['max_ms']):>12}")
    d = lat["device_push"]
    lines.append(f"   {'alert pushed to probe wearable p50 / p95':<42}{ms(d['p50_ms']):>4} / {ms(d['p95_ms'])}")
    la = load.get("ack") or {}
    lines.append(
        f"   {'load batches acked / sent':<34}{load.get('acked', '?'):>12} / {load.get('sent', '?')}"
        f"  (ack p50 {ms(la.get('p50_ms'))}, p95 {ms(la.get('p95_ms'))}, p99 {ms(la.get('p99_ms'))};"
        f" errors {load.get('errors', '?')}, dropped sockets {load.get('closed', '?')})"
    )
    lines.append(
        f"   {'Celery queue when the load stopped':<34}{load.get('celery_queue_at_end', '?'):>12} tasks"
        f"  (drained in {load.get('celery_drain_s', '?')} s)"
    )
    lag = result.get("evaluation_lag") or {}
    if lag:

        def sec(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} s"

        lag_ok = lag.get("p95_s") is not None and lag["p95_s"] < 30
        lines.append(
            f"   {'evaluation lag p50 / p95 / max':<34}{sec(lag['p50_s']):>12} / {sec(lag['p95_s'])} / "
            f"{sec(lag['max_s'])}  (p95 < 30 s: {verdict(lag_ok)}; n={lag['n']}, oldest pending at most "
            f"{sec(lag['oldest_pending_max_s'])})"
        )
    lines.append("2. Fan-out (no device load; one clinician session shared by all dashboards)")
    head = f"   {'dashboards':>10}{'alerts':>8}{'delivered/expected':>22}{'short':>7}"
    lines.append(head + f"{'p50':>10}{'p95':>10}{'max':>10}  result")
    for f in result["fanout"]:
        ok = f["delivered"] == f["expected"]
        lines.append(
            f"   {f['dashboards']:>10}{f['probes']:>8}{f['delivered']:>13,} / {f['expected']:<6,}"
            f"{f['dashboards_short']:>7}"
            f"{ms(f['latency']['p50_ms']):>10}{ms(f['latency']['p95_ms']):>10}{ms(f['latency']['max_ms']):>10}  "
            f"{'all delivered' if ok else 'SHORTFALL'}"
        )
    lines.append(
        "   channel layer: channels-redis, capacity 1000 messages per channel, message expiry 60 s,"
        " group_expiry default (86,400 s) — see healthhub/settings.py"
    )
    return "\n".join(lines)


def orchestrate(args: argparse.Namespace) -> int:
    raise_nofile_limit()
    probes_needed = 1 + args.probes + args.fanout_alerts * len(args.fanout)
    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    data_path = var / "bench-alerts-devices.json"
    from alerts.notify.push import vapid_keys_generate
    from tests.alerts.push_receiver import PushService

    env = server_env(args)
    env["VAPID_PRIVATE_KEY"], env["VAPID_PUBLIC_KEY"] = vapid_keys_generate()
    pager = PushService(env["VAPID_PUBLIC_KEY"])
    endpoint, browser = pager.subscribe("bench-clinician-phone")
    setup_env = {**env, "BENCH_PUSH_ENDPOINT": endpoint, "BENCH_PUSH_P256DH": browser.p256dh,
                 "BENCH_PUSH_AUTH": browser.auth}  # fmt: skip
    sup = Supervisor(var / "bench-alerts-logs")
    started = time.monotonic()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        data = recreate_database(args, env, data_path, probes_needed, setup_env)
        log(f"starting uvicorn healthhub.asgi:application --workers 2 on 127.0.0.1:{args.port} and a Celery worker")
        server = sup.start(
            "uvicorn",
            uvicorn_command(
                host="127.0.0.1", port=args.port, workers=2, graceful_shutdown_s=5, extra=("--backlog", "4096")
            ),
            env,
        )
        # As compose.yaml deploys them: a worker of its own for SOS and falls,
        # so that an urgent task never waits for a slot that a batch of
        # routine evaluations holds, beside the worker of both queues.
        urgent = start_celery(sup, env, nice=0, queues="urgent", concurrency=1, name="celery-urgent")
        celery = start_celery(sup, env, nice=0)
        wait_port(args.port, server, 60)
        result = asyncio.run(asyncio.wait_for(measure(args, data, sup, env, data_path, pager), args.time_limit))
        for worker in (urgent, celery):
            if not worker.alive():
                raise BenchError(f"a Celery worker exited:\n{worker.log_tail()}")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    except (BenchError, TimeoutError, subprocess.TimeoutExpired) as exc:
        log(f"FAILED: {exc!r}")
        for proc in sup.procs:
            log(f"--- {proc.name} log tail ---\n{proc.log_tail(10)}")
        return 1
    finally:
        sup.stop_all()
        pager.close()
        data_path.unlink(missing_ok=True)
        data_path.with_name("bench-alerts-load.json").unlink(missing_ok=True)

    result.update(
        {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "quick": args.quick,
            "devices": args.devices,
            "batch_every_s": args.batch_every,
            "uvicorn_workers": 2,
            "celery_concurrency": 2,
            "celery_urgent_worker_concurrency": 1,
            "cpus": os.cpu_count(),
            "targets": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS, "push_p99_ms": TARGET_PUSH_P99_MS},
            "seconds": round(time.monotonic() - started, 1),
            "channel_layer": {"capacity": 1000, "expiry_s": 60, "group_expiry_s": 86400},
        }
    )
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    out = var / "bench-alerts.json"
    out.write_text(json.dumps(result, indent=2))
    print()
    print(table(result))
    print(f"\nwritten to {out.relative_to(ROOT)} ({result['seconds']:.0f} s)")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.alerts",
        description="Alert latency under device load and alert fan-out to dashboards, on a production "
        "topology the script starts (PostgreSQL, Redis, uvicorn --workers 2, Celery). About 4 minutes; "
        "--quick about 2.",
    )
    p.add_argument("--quick", action="store_true", help="200 devices, fan-out to 10 and 100 dashboards, 10 alerts each")
    p.add_argument("--devices", type=int, default=1000, help="simulated wearables under load (1000)")
    p.add_argument("--probes", type=int, default=40, help="SOS probes under load (40)")
    p.add_argument(
        "--batch-every", type=float, default=2.0, help="seconds between a load device's batches of 25 readings (2)"
    )
    p.add_argument("--interval", type=float, default=2.0, help="seconds between probes under load (2)")
    p.add_argument(
        "--load-seconds", type=float, default=None, help="seconds of device load (default: 120 + probes x interval)"
    )
    p.add_argument(
        "--fanout",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10, 100, 500],
        help="dashboard counts (10,100,500)",
    )
    p.add_argument("--fanout-alerts", type=int, default=20, help="alerts raised per fan-out level (20)")
    p.add_argument("--fanout-interval", type=float, default=1.0, help="seconds between fan-out alerts (1)")
    p.add_argument("--db-name", default="healthhub_bench_alerts", help="database dropped and re-created")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="Redis database flushed for the bench")
    p.add_argument("--port", type=int, default=8200, help="healthhub's port (8200)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="bound on the measuring phases, seconds (default: the load's length + 200)",
    )
    # Internal: the subprocesses of this script.
    p.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    p.add_argument("--status", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.devices, args.probes, args.interval = 200, 30, 1.0
        args.fanout, args.fanout_alerts = [10, 100], 10
    if args.time_limit is None:
        args.time_limit = (args.load_seconds or 120 + args.probes * args.interval) + 200
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.setup:
        setup_data(args.devices, args.probes, args.setup)
        return 0
    if args.load:
        raise_nofile_limit()
        tokens = [d["token"] for d in json.loads(args.load.read_text())["load"]]
        asyncio.run(run_load(tokens, args.url, args.duration, args.status, args.batch_every))
        return 0
    for url in (args.pg_url, args.redis_url):
        if "127.0.0.1" not in url and "localhost" not in url:
            raise SystemExit(f"only 127.0.0.1 is allowed: {url}")
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
