"""The bench's run: set up, start the production topology, drive it, report.

Rounds (three by default), each running every system in turn on a freshly
started server (healthhub, the baseline with group commit, the baseline
committing each batch alone), so that the machine's changing load falls on
all of them alike; each figure is reported as the median round and the
spread over rounds. In each: warm-up, idle memory, then ``capacity + memory`` (connect the device levels,
e.g. 1,000 then 5,000, measuring server RSS at each, hold, ping every
connection), ``latency`` (open loop), ``throughput`` (closed loop); after
each loaded phase the rows stored are checked against the readings acked.
During the throughput phase the Celery backlog (messages waiting in the
broker) is sampled every half second.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report as report_mod
from bench.loadgen import LoadPool
from bench.procs import (
    Proc,
    Supervisor,
    cpu_seconds,
    machine_cpu_seconds,
    pids_named,
    raise_nofile_limit,
    read_sysctl,
    tree,
    tree_rss_mib,
)
from healthhub.serve import uvicorn_command
from healthhub.stats import percentile

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PATH = "/ws/devices/v1/"


class BenchError(RuntimeError):
    pass


@dataclass
class Plan:
    """What one run does; built from the command line by bench.__main__."""

    quick: bool
    levels: list[int]
    throughput_devices: int
    throughput_duration: float
    in_flight: int
    latency_devices: int
    latency_interval: float
    latency_duration: float
    hold: float
    batch_size: int
    workers: int
    baseline_workers: int
    load_procs: int
    ws: str
    systems: list[str]
    baseline_copy: str
    db_name: str
    pg_url: str
    redis_url: str
    port: int
    baseline_port: int
    report_path: Path
    keep_db: bool
    settle: float = 3.0
    wait_quiet: float = 0.0
    celery_nice: int = 0
    connect_concurrency: int = 100
    rounds: int = 3

    @property
    def device_count(self) -> int:
        return max([*self.levels, self.throughput_devices, self.latency_devices])

    @property
    def database_url(self) -> str:
        return f"{self.pg_url.rstrip('/')}/{self.db_name}"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- setup ---------------------------------------------------------------------


def server_env(plan: Plan) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="healthhub.settings",
        DATABASE_URL=plan.database_url,
        REDIS_URL=plan.redis_url,
        DEBUG="false",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_database(plan: Plan, env: dict[str, str], tokens_path: Path) -> list[tuple[int, str]]:
    import psycopg
    import redis

    log(f"database {plan.db_name}: drop, create, migrate")
    with psycopg.connect(f"{plan.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{plan.db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{plan.db_name}"')
    _check_call([str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], env)
    log(f"redis {plan.redis_url}: flush")
    redis.Redis.from_url(plan.redis_url).flushdb()
    log(f"provisioning {plan.device_count:,} devices")
    started = time.monotonic()
    _check_call(
        [
            str(VENV_BIN / "python"),
            "-m",
            "bench.provision",
            "--count",
            str(plan.device_count),
            "--out",
            str(tokens_path),
        ],
        env,
    )
    log(f"provisioned in {time.monotonic() - started:.1f} s")
    return [(d["id"], d["token"]) for d in json.loads(tokens_path.read_text())]


def _check_call(argv: list[str], env: dict[str, str]) -> None:
    import subprocess

    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv[1:4])} failed:\n{done.stdout}\n{done.stderr}")


def drop_database(plan: Plan) -> None:
    import psycopg

    with psycopg.connect(f"{plan.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{plan.db_name}" WITH (FORCE)')


# --- servers ---------------------------------------------------------------------


def start_healthhub(sup: Supervisor, plan: Plan, env: dict[str, str]) -> Proc:
    argv = uvicorn_command(
        host="127.0.0.1",
        port=plan.port,
        workers=plan.workers,
        graceful_shutdown_s=5,
        extra=("--loop", "uvloop", "--http", "httptools", "--ws", plan.ws, "--backlog", "8192"),
    )
    return sup.start("uvicorn", argv, env)


def start_celery(
    sup: Supervisor,
    env: dict[str, str],
    nice: int,
    *,
    queues: str = "urgent,celery",
    concurrency: int = 2,
    name: str = "celery",
) -> Proc:
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        "healthhub",
        "worker",
        "-Q",
        queues,
        "--loglevel",
        "WARNING",
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    return sup.start(name, argv, env, nice=nice)


def start_beat(sup: Supervisor, env: dict[str, str], nice: int) -> Proc:
    """Celery beat, as compose.yaml runs it: among its tasks the sweeper that
    enqueues the evaluations the fast path left (a worker whose flag was up
    when its last batch came), so that the outbox drains once the load stops."""
    schedule = sup.log_dir / "celerybeat-schedule"
    for stale in sup.log_dir.glob("celerybeat-schedule*"):
        stale.unlink()
    argv = [str(VENV_BIN / "celery"), "-A", "healthhub", "beat", "--loglevel", "WARNING", "--schedule", str(schedule)]
    return sup.start("beat", argv, env, nice=nice)


def start_baseline(sup: Supervisor, plan: Plan, env: dict[str, str], commit: str = "group") -> Proc:
    argv = [
        str(VENV_BIN / "python"),
        "-m",
        "bench.baseline_server",
        "--port",
        str(plan.baseline_port),
        "--workers",
        str(plan.baseline_workers),
        "--dsn",
        plan.database_url,
        "--copy",
        plan.baseline_copy,
        "--commit",
        commit,
    ]
    return sup.start("baseline" if commit == "group" else f"baseline-{commit}", argv, env)


class BacklogSampler:
    """The Celery messages waiting in the bench's Redis (every queue and
    priority step), sampled in a thread while a phase runs."""

    QUEUES = ("urgent", "celery")

    def __init__(self, redis_url: str, every: float = 0.5) -> None:
        import threading

        import redis

        self.client = redis.Redis.from_url(redis_url, socket_timeout=2)
        self.every = every
        self.samples: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def depth(self) -> int:
        keys = [q if step == 0 else f"{q}\x06\x16{step}" for q in self.QUEUES for step in (0, 3, 6, 9)]
        pipe = self.client.pipeline()
        for key in keys:
            pipe.llen(key)
        return sum(pipe.execute())

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            with contextlib.suppress(Exception):
                self.samples.append(self.depth())

    def __enter__(self) -> BacklogSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def summary(self) -> dict:
        return {
            "max": max(self.samples, default=None),
            "at_end": self.samples[-1] if self.samples else None,
            "samples": len(self.samples),
        }


def wait_ready(proc: Proc, url: str, token: str, timeout: float = 60) -> None:
    """Until a device gets its welcome frame."""
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            with connect(
                url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None, open_timeout=5
            ) as ws:
                if json.loads(ws.recv(timeout=5)).get("type") == "welcome":
                    return
        except Exception as exc:  # not up yet: refused, reset, timeout
            last = exc
        time.sleep(0.5)
    raise BenchError(f"{proc.name} not ready after {timeout:.0f} s ({last!r}):\n{proc.log_tail()}")


# --- phases ----------------------------------------------------------------------


class Verifier:
    """Reads the bench database directly (psycopg), not through Django."""

    def __init__(self, plan: Plan) -> None:
        self.url = plan.database_url

    def truncate(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE devices_reading")

    def wait_evaluated(self, timeout: float) -> float | None:
        """Seconds until no worker's readings wait for an evaluation (the
        outbox, devices_evaluationdue; the baselines write none), or None
        if some still do after ``timeout``."""
        import psycopg

        started = time.monotonic()
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.monotonic() - started < timeout:
                row = conn.execute(
                    "SELECT count(*) FROM devices_evaluationdue WHERE pending_since IS NOT NULL"
                ).fetchone()
                if row[0] == 0:
                    waited = time.monotonic() - started
                    if waited > 1:
                        log(f"evaluations caught up after {waited:.0f} s")
                    return waited
                time.sleep(1)
        log(f"evaluations still pending after {timeout:g} s")
        return None

    def postgres_pids(self) -> list[int]:
        """The backends serving the bench database, and PostgreSQL's own
        background processes (WAL writer, checkpointer...): not the backends
        of other databases on the same server."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND (datname = current_database() OR backend_type <> 'client backend')"
            ).fetchall()
        return [pid for (pid,) in rows]

    def stored_by_device(self) -> dict[int, int]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute("SELECT device_id, count(*) FROM devices_reading GROUP BY device_id").fetchall()
        return dict(rows)


def _merge_runs(results: list[dict]) -> dict:
    merged: dict[str, Any] = {
        "latencies_ms": [],
        "acked_batches": 0,
        "accepted": 0,
        "duplicates": 0,
        "rejected": 0,
        "sent_batches": 0,
        "unacked_batches": 0,
        "dropped": 0,
        "errors": {},
        "per_second": {},
        "last_ack_at": 0.0,
        "accepted_by_device": {},
        "cpu_seconds": 0.0,
    }
    for r in results:
        merged["latencies_ms"] += r["latencies_ms"]
        for key in ("acked_batches", "accepted", "duplicates", "rejected", "sent_batches", "unacked_batches"):
            merged[key] += r[key]
        merged["dropped"] += r["dropped"]
        merged["cpu_seconds"] += r["cpu_seconds"]
        merged["last_ack_at"] = max(merged["last_ack_at"], r["last_ack_at"])
        merged["accepted_by_device"].update(r["accepted_by_device"])
        for k, v in r["errors"].items():
            merged["errors"][k] = merged["errors"].get(k, 0) + v
        for k, v in r["per_second"].items():
            merged["per_second"][k] = merged["per_second"].get(k, 0) + v
    return merged


def _check_stored(verifier: Verifier, run: dict) -> dict:
    stored = verifier.stored_by_device()
    acked = run["accepted_by_device"]
    lost = sum(max(0, n - stored.get(d, 0)) for d, n in acked.items())
    extra = sum(max(0, n - acked.get(d, 0)) for d, n in stored.items())
    return {"acked": run["accepted"], "stored": sum(stored.values()), "lost": lost, "stored_not_acked": extra}


class Driver:
    def __init__(self, plan: Plan, pool: LoadPool, devices: list[tuple[int, str]], celery: Proc) -> None:
        self.plan = plan
        self.pool = pool
        self.devices = devices
        self.celery = celery
        self.beat: Proc | None = None  # healthhub's, while it runs
        self.verifier = Verifier(plan)

    def connect(self, url: str, devices: list[tuple[int, str]]) -> dict:
        results = self.pool.call(
            "connect",
            [
                {"url": url, "devices": share, "concurrency": self.plan.connect_concurrency, "open_timeout": 30}
                for share in self.pool.split([list(d) for d in devices])
            ],
            timeout=180,
        )
        errors: dict[str, int] = {}
        for r in results:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        return {
            "connected": sum(r["connected"] for r in results),
            "failed": sum(r["failed"] for r in results),
            "errors": errors,
            "seconds": max(r["seconds"] for r in results),
        }

    def close(self) -> None:
        self.pool.call_all("close", timeout=120)

    def run_load(self, mode: str, duration: float, interval: float, base_offset_s: int) -> dict:
        """Readings are measured from ``base_offset_s`` before now, as a
        wearable streaming live sends them: at most 2 minutes old, so never
        late for their hour (late readings cost ingestion an extra upsert,
        devices.partitions.LATE_AFTER). Each phase starts closer to now than
        the one before, so no device's timestamps repeat across phases."""
        assert base_offset_s <= 120, "readings older than 2 minutes may be late for their hour"
        start_at = time.time() + 1.0
        base_ms = int((time.time() - base_offset_s) * 1000)
        results = self.pool.call_all(
            "run",
            timeout=duration + 90,
            mode=mode,
            start_at=start_at,
            duration=duration,
            interval=interval,
            in_flight=self.plan.in_flight,
            batch_size=self.plan.batch_size,
            base_ms=base_ms,
            drain_timeout=30.0,
        )
        merged = _merge_runs(results)
        merged["start_at"] = start_at
        merged["duration"] = duration
        return merged

    def system(self, name: str, proc: Proc, port: int) -> dict:
        plan = self.plan
        url = f"ws://127.0.0.1:{port}{PATH}"
        out: dict[str, Any] = {}
        wait_ready(proc, url, self.devices[0][1])
        # Let every worker process finish starting, then warm up: first
        # connections pay for lazy imports, pools and caches.
        time.sleep(2)
        self.connect(url, self.devices[:20])
        self.run_load("closed", 2.0, 0, 110)
        self.close()
        time.sleep(plan.settle)
        out["server_pids"] = tree(proc.pid)
        out["processes"] = len(out["server_pids"])

        # capacity + memory: idle connections at each level
        memory: dict[str, Any] = {"idle_mb": tree_rss_mib(proc.pid), "levels": {}}
        log(f"{name}: server RSS idle {memory['idle_mb']:.1f} MB over {out['processes']} processes")
        capacity: dict[str, Any] = {"connects": []}
        have = 0
        for level in plan.levels:
            result = self.connect(url, self.devices[have:level])
            have = level
            capacity["connects"].append({"level": level, **result})
            time.sleep(plan.settle)
            memory["levels"][str(level)] = tree_rss_mib(proc.pid)
            log(
                f"{name}: {level:,} devices: {result['connected']:,} new connected ({result['failed']} failed"
                f"{', ' + str(result['errors']) if result['errors'] else ''}) in {result['seconds']:.1f} s;"
                f" server RSS {memory['levels'][str(level)]:.1f} MB"
            )
        top = plan.levels[-1]
        memory["mb_per_1000"] = (memory["levels"][str(top)] - memory["idle_mb"]) / top * 1000
        log(f"{name}: holding {top:,} connections for {plan.hold:g} s")
        time.sleep(plan.hold)
        pings = self._ping()
        capacity["held"] = pings["alive"]
        capacity["dead"] = pings["dead"]
        capacity["target"] = top
        log(f"{name}: {pings['alive']:,} of {top:,} connections answer a ping after the hold")
        self.close()
        time.sleep(plan.settle)
        out["memory"], out["capacity"] = memory, capacity

        out["latency"] = self.loaded_phase(name, proc, url, "open", plan.latency_devices, plan.latency_duration)
        # The latency phase leaves healthhub evaluations to catch up on (10,000
        # workers' readings); each phase measures its own load, so the
        # throughput phase starts once they are done (the wait is reported).
        if name == "healthhub":
            out["latency"]["evaluations_drained_s"] = self.verifier.wait_evaluated(timeout=240)
        out["throughput"] = self.loaded_phase(
            name, proc, url, "closed", plan.throughput_devices, plan.throughput_duration
        )
        return out

    def _ping(self) -> dict:
        results = self.pool.call_all("ping", timeout=120, wait=10)
        return {"alive": sum(r["alive"] for r in results), "dead": sum(r["dead"] for r in results)}

    def loaded_phase(self, name: str, proc: Proc, url: str, mode: str, count: int, duration: float) -> dict:
        plan = self.plan
        self.verifier.truncate()
        connected = self.connect(url, self.devices[:count])
        if connected["failed"]:
            log(f"{name}: {connected['failed']} devices failed to connect: {connected['errors']}")
        label = "latency" if mode == "open" else "throughput"
        what = f"1 batch/{plan.latency_interval:g} s each" if mode == "open" else f"{plan.in_flight} in flight each"
        log(f"{name}: {label}: {connected['connected']:,} devices, {what}, {duration:g} s")
        groups = {
            "server": tree(proc.pid),
            "postgres": self.verifier.postgres_pids(),
            "redis": pids_named("redis-server"),
            "celery": tree(self.celery.pid) + (tree(self.beat.pid) if self.beat else []),
        }
        before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        machine_before = machine_cpu_seconds()
        with BacklogSampler(plan.redis_url) as backlog:
            run = self.run_load(mode, duration, plan.latency_interval, 90 if mode == "open" else 60)
        # PostgreSQL processes that started during the phase (a Celery
        # process's new connection, an autovacuum worker) count from zero.
        started = sorted(set(self.verifier.postgres_pids()) - set(groups["postgres"]))
        after = {name: cpu_seconds(pids) for name, pids in groups.items()}
        after["postgres"] += cpu_seconds(started)
        machine_after = machine_cpu_seconds()
        self.close()
        check = _check_stored(self.verifier, run)
        elapsed = max(run["last_ack_at"] - run["start_at"], 1e-9)
        wall = machine_after[1] - machine_before[1]  # CPU-seconds available on all cores
        cpu = {f"{name}_share": (after[name] - before[name]) / wall for name in groups} if wall else {}
        if wall:
            cpu["loadgen_share"] = run["cpu_seconds"] / wall
            cpu["machine_busy_share"] = (machine_after[0] - machine_before[0]) / wall
            # Of which stolen by the host (part of "other" below): load from outside that slows everything.
            cpu["steal_share"] = (machine_after[2] - machine_before[2]) / wall
            # Everything else on the machine: other people's work shares it too.
            cpu["other_share"] = max(0.0, cpu["machine_busy_share"] - sum(cpu[f"{n}_share"] for n in groups))
            cpu["other_share"] = max(0.0, cpu["other_share"] - cpu["loadgen_share"])
        # CPU time the system under test spent per 1,000 readings stored: a
        # measure of efficiency that other load on the machine barely moves.
        spent = sum(after[name] - before[name] for name in groups)
        cpu["ms_per_1000_readings"] = spent / check["stored"] * 1e6 if check["stored"] else None
        cpu["server_ms_per_1000_readings"] = (
            (after["server"] - before["server"]) / check["stored"] * 1e6 if check["stored"] else None
        )
        warm = min(5, int(duration // 5))
        steady = sum(v for k, v in run["per_second"].items() if warm <= k < int(duration))
        lat = run["latencies_ms"]
        result = {
            "devices": connected["connected"],
            "connect_failed": connected["failed"],
            "duration_s": duration,
            "elapsed_s": elapsed,
            "sent_batches": run["sent_batches"],
            "acked_batches": run["acked_batches"],
            "acked_of_sent": f"{run['acked_batches']:,}/{run['sent_batches']:,}",
            "unacked_batches": run["unacked_batches"],
            "dropped_connections": run["dropped"],
            "errors": run["errors"],
            "duplicates": run["duplicates"],
            "rejected": run["rejected"],
            **check,
            "stored_per_s": check["stored"] / elapsed,
            "steady_per_s": steady / max(1, int(duration) - warm),
            "batches_per_s": run["acked_batches"] / elapsed,
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else None,
            "cpu": cpu,
            "celery_backlog": backlog.summary(),
        }
        log(
            f"{name}: {label}: {result['stored']:,} stored / {result['acked']:,} acked"
            f" (lost {result['lost']}), {result['stored_per_s']:,.0f} readings/s,"
            f" ack p50/p95/p99 {_ms(result['p50_ms'])}/{_ms(result['p95_ms'])}/{_ms(result['p99_ms'])} ms,"
            f" CPU: server {_pct(cpu.get('server_share'))} postgres {_pct(cpu.get('postgres_share'))}"
            f" celery {_pct(cpu.get('celery_share'))} redis {_pct(cpu.get('redis_share'))}"
            f" load {_pct(cpu.get('loadgen_share'))} other {_pct(cpu.get('other_share'))}"
            f" (stolen {_pct(cpu.get('steal_share'))})"
            f" (machine {_pct(cpu.get('machine_busy_share'))} busy),"
            f" Celery backlog max {result['celery_backlog']['max']}"
            + (f", errors {run['errors']}" if run["errors"] else "")
        )
        return result


def _nested(result: dict, *path: str) -> Any:
    for key in path:
        result = result.get(key) if isinstance(result, dict) else None
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


# --- the run -----------------------------------------------------------------------


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(plan: Plan) -> int:
    (ROOT / "var").mkdir(exist_ok=True)
    with (ROOT / "var" / "bench.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another bench is running on this machine (var/bench.lock); not starting a second one")
            return 2
        return _run(plan)


def _idle_share(seconds: float = 2.0) -> float:
    """How busy the machine is before the bench starts anything."""
    busy0, total0, _ = machine_cpu_seconds()
    time.sleep(seconds)
    busy1, total1, _ = machine_cpu_seconds()
    return (busy1 - busy0) / max(total1 - total0, 1e-9)


def _run(plan: Plan) -> int:
    # Ctrl-C and a polite kill both end in the cleanup below, even when the
    # bench was started with SIGINT ignored (in the background of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    nofile = raise_nofile_limit()
    started = time.monotonic()
    var = ROOT / "var"
    sup = Supervisor(log_dir=var / "bench-logs")
    tokens_path = var / "bench-devices.json"
    env = server_env(plan)
    pool: LoadPool | None = None
    results: dict[str, dict] = {}
    rounds: dict[str, list[dict]] = {system: [] for system in plan.systems}
    notes: list[str] = []
    somaxconn = read_sysctl("net.core.somaxconn")
    busy_before = _idle_share()
    waited = 0.0
    while busy_before > 0.25 and waited < plan.wait_quiet:
        if waited == 0:
            log(f"the machine is {busy_before:.0%} busy; waiting up to {plan.wait_quiet:.0f} s for it to calm down")
        busy_before = _idle_share(5.0)
        waited += 5.0
    if busy_before > 0.15:
        notes.append(f"the machine was {busy_before:.0%} busy before the bench started: figures are noisy")
    try:
        devices = prepare_database(plan, env, tokens_path)
        pool = LoadPool(plan.load_procs)
        celery = start_celery(sup, env, plan.celery_nice)
        driver = Driver(plan, pool, devices, celery)
        for number in range(1, plan.rounds + 1):
            for system in plan.systems:
                log(f"round {number} of {plan.rounds}: {system}")
                if system == "healthhub":
                    log(
                        f"starting uvicorn healthhub.asgi:application --workers {plan.workers} "
                        f"(uvloop, httptools, ws {plan.ws}) with Celery and beat"
                    )
                    proc = start_healthhub(sup, plan, env)
                    driver.beat = start_beat(sup, env, plan.celery_nice)
                    port = plan.port
                else:
                    commit = "alone" if system == "baseline-alone" else "group"
                    log(
                        f"starting the baseline server --workers {plan.baseline_workers}"
                        f" ({plan.baseline_copy} COPY, {commit} commit)"
                    )
                    proc = start_baseline(sup, plan, env, commit)
                    port = plan.baseline_port
                try:
                    rounds[system].append(driver.system(system, proc, port))
                finally:
                    sup.stop(proc)
                    if driver.beat is not None:
                        sup.stop(driver.beat)
                        driver.beat = None
        results = {system: report_mod.median_round(runs) for system, runs in rounds.items() if runs}
        if not celery.alive():
            notes.append(f"the Celery worker exited during the run: {celery.log_tail(5)}")
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    finally:
        if pool is not None:
            pool.shutdown()
        sup.stop_all()
        with contextlib.suppress(OSError):
            tokens_path.unlink()
        if not plan.keep_db:
            with contextlib.suppress(Exception):
                drop_database(plan)

    params = {
        "quick": plan.quick,
        "levels": plan.levels,
        "capacity_devices": plan.levels[-1],
        "throughput_devices": plan.throughput_devices,
        "throughput_duration_s": plan.throughput_duration,
        "in_flight": plan.in_flight,
        "latency_devices": plan.latency_devices,
        "latency_interval": plan.latency_interval,
        "latency_duration_s": plan.latency_duration,
        "hold_s": plan.hold,
        "batch_size": plan.batch_size,
        "healthhub_workers": plan.workers,
        "healthhub_ws": plan.ws,
        "baseline_workers": plan.baseline_workers,
        "baseline_copy": plan.baseline_copy,
        "load_processes": plan.load_procs,
        "celery_nice": plan.celery_nice,
        "rounds": plan.rounds,
        "systems": plan.systems,
    }
    ratios, target_rows = report_mod.targets(results, params)
    if plan.quick:
        notes.append("--quick: a smoke run at reduced scale; the targets are stated for the full run")
    notes.append(
        f"baseline writes with {plan.baseline_copy} COPY"
        + (
            " (COPY into a temp table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING: idempotent like healthhub)"
            if plan.baseline_copy == "staged"
            else " (straight into devices_reading: the bench sends no duplicates)"
        )
    )
    notes.append(
        f"all on one machine of {os.cpu_count()} cores: {plan.load_procs} load-generator processes, the server,"
        " PostgreSQL, Redis and Celery share them (see the CPU shares); latency includes load-generator delay"
    )
    notes.append(
        f"net.core.somaxconn={somaxconn} caps the listen backlog of 8192; open files limit {nofile};"
        " memory is VmRSS summed over the server's processes (shared pages count once per process)"
    )
    others = {s: _nested(r, "throughput", "cpu", "other_share") for s, r in results.items()}
    if len(others) == 2 and None not in others.values():
        hh_other, base_other = others.get("healthhub"), others.get("baseline")
        if abs(hh_other - base_other) > 0.15:
            notes.append(
                f"other processes took {hh_other:.0%} of the machine during healthhub's throughput phase and"
                f" {base_other:.0%} during the baseline's: the throughput ratio is skewed by that; the CPU per"
                " 1,000 readings is the steadier comparison"
            )
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": {
            **report_mod.machine_description(plan.pg_url),
            "cpus": os.cpu_count(),
            "somaxconn": somaxconn,
            "tcp_max_syn_backlog": read_sysctl("net.ipv4.tcp_max_syn_backlog"),
            "nofile": nofile,
        },
        "params": params,
        "results": results,
        "ratios": ratios,
        "spread": report_mod.spread(rounds),
        "targets": target_rows,
        "notes": notes,
    }
    for system in [*results.values(), *(r for runs in rounds.values() for r in runs)]:
        for phase in ("latency", "throughput"):
            if phase in system:
                system[phase].pop("latencies_ms", None)
    report["rounds"] = rounds
    report_mod.write(report, plan.report_path)
    print()
    print(report_mod.render(report))
    print(f"\nreport written to {plan.report_path} ({report['elapsed_s']:.0f} s)")
    return 0
