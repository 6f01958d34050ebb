"""``python -m bench``: see ``--help``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bench.run import ROOT, Plan, run

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _levels(raw: str) -> list[int]:
    try:
        levels = sorted({int(x) for x in raw.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of device counts, e.g. 1000,5000") from None
    if not levels or levels[0] <= 0:
        raise argparse.ArgumentTypeError("device counts must be positive")
    return levels


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark healthhub's device ingestion (uvicorn + Channels + Redis + PostgreSQL + Celery, all on "
            "127.0.0.1) against a bare websockets + COPY baseline, with simulated wearables over real sockets. "
            "Prints a report table and writes it as JSON. The full run (three rounds) takes about 27 minutes."
        ),
    )
    p.add_argument("--quick", action="store_true", help="a small smoke run: ~200 devices, seconds-long phases")
    p.add_argument(
        "--devices",
        type=_levels,
        metavar="N,N",
        help="idle-connection levels for the memory and capacity phase; the largest is held (default 1000,10000)",
    )
    p.add_argument("--throughput-devices", type=int, metavar="N", help="devices in the throughput phase (1000)")
    p.add_argument("--duration", type=float, metavar="S", help="throughput phase length in seconds (30)")
    p.add_argument("--in-flight", type=int, default=1, metavar="N", help="unacknowledged batches per device (1)")
    p.add_argument(
        "--latency-devices", type=int, metavar="N", help="devices in the latency phase (10000, the scale target's)"
    )
    p.add_argument("--latency-interval", type=float, default=5.0, metavar="S", help="seconds between batches (5)")
    p.add_argument("--latency-duration", type=float, metavar="S", help="latency phase length in seconds (30)")
    p.add_argument("--hold", type=float, metavar="S", help="how long the largest level is held (20)")
    p.add_argument("--batch-size", type=int, default=25, metavar="N", help="readings per batch (25)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="uvicorn worker processes (2)")
    p.add_argument("--baseline-workers", type=int, metavar="N", help="baseline processes (as --workers)")
    p.add_argument("--load-procs", type=int, default=2, metavar="N", help="load-generator processes (2)")
    p.add_argument(
        "--celery-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the Celery worker at this nice level (0: as deployed, competing with the server)",
    )
    p.add_argument(
        "--ws",
        default="websockets-sansio",
        choices=["websockets-sansio", "websockets", "wsproto"],
        help="uvicorn's WebSocket implementation (websockets-sansio)",
    )
    p.add_argument(
        "--only",
        choices=["healthhub", "baseline", "baseline-alone"],
        help="run one system only (no ratios then)",
        default=None,
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        metavar="N",
        help="rounds of every system in turn; figures are the median round (3; 1 with --quick)",
    )
    p.add_argument(
        "--baseline-copy",
        choices=["staged", "plain"],
        default="staged",
        help="staged: COPY into a temp table + INSERT ... ON CONFLICT DO NOTHING; plain: COPY into the table",
    )
    p.add_argument("--db-name", default="healthhub_bench", help="database dropped and re-created (healthhub_bench)")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server, no database")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Redis database flushed for the bench")
    p.add_argument("--port", type=int, default=8100, help="healthhub's port (8100)")
    p.add_argument("--baseline-port", type=int, default=8101, help="the baseline's port (8101)")
    p.add_argument("--report", type=Path, default=ROOT / "var" / "bench-report.json", help="JSON report path")
    p.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    p.add_argument(
        "--wait-quiet",
        type=float,
        metavar="S",
        help="wait up to S seconds for other load on the machine to calm down before starting (60; --quick: 0)",
    )
    return p


def plan_from(args: argparse.Namespace) -> Plan:
    quick = args.quick
    levels = args.devices or ([100, 200] if quick else [1000, 10000])

    def pick(value: float | None, full: float, small: float) -> float:
        return value if value is not None else (small if quick else full)

    for url in (args.pg_url, args.redis_url):
        if urlsplit(url).hostname not in LOOPBACK:
            raise SystemExit(f"the bench only targets this machine's loopback address, not {url}")
    return Plan(
        quick=quick,
        levels=levels,
        throughput_devices=int(pick(args.throughput_devices, 1000, 200)),
        throughput_duration=pick(args.duration, 30, 6),
        in_flight=args.in_flight,
        latency_devices=int(pick(args.latency_devices, 10000, 200)),
        latency_interval=args.latency_interval,
        latency_duration=pick(args.latency_duration, 30, 6),
        hold=pick(args.hold, 20, 2),
        batch_size=args.batch_size,
        workers=args.workers,
        baseline_workers=args.baseline_workers or args.workers,
        load_procs=args.load_procs,
        ws=args.ws,
        systems=[args.only] if args.only else ["healthhub", "baseline", "baseline-alone"],
        baseline_copy=args.baseline_copy,
        db_name=args.db_name,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
        port=args.port,
        baseline_port=args.baseline_port,
        report_path=args.report,
        keep_db=args.keep_db,
        settle=1.0 if quick else 3.0,
        wait_quiet=pick(args.wait_quiet, 60, 0),
        celery_nice=args.celery_nice,
        rounds=args.rounds or (1 if quick else 3),
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.chdir(ROOT)
    return run(plan_from(args))


if __name__ == "__main__":
    sys.exit(main())
