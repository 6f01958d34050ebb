"""A worker's charts with a month of history in the database.

Run as ``python -m bench.chart`` (``make bench`` runs it). In a fresh
PostgreSQL database (dropped, re-created, migrated, on 127.0.0.1) it
provisions WORKERS workers with a device each and fills in what a month of
wearing leaves behind:

- minute summaries of the 30 closed days before today for every worker
  (4 metrics, every minute: 200 workers x 30 days x 1,440 minutes x 4),
  and their hour summaries, written by the code beat runs
  (devices.partitions.hours_roll_up);
- today's raw readings (4 metrics every 5 s since midnight UTC), with
  today's closed hours rolled up as beat's hourly run leaves them.

Then it asks for charts as the worker page does: GET
/api/v1/workers/{id}/readings/ with the month's, the week's and the day's
range and bucket width (desk.selectors.CHART_RANGES), as a clinician of the
site (DRF test client with authentication forced: the session and
second-factor middleware are not timed; the access check, the access-log
row, the queries and the JSON are), REQUESTS times each for random workers.
Prints p50 / p95 / max per range and writes var/bench-chart.json.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 100.0
METRICS = {"heart_rate": (75.0, 15.0), "spo2": (97.0, 2.0), "skin_temp": (33.5, 1.0), "steps": (8.0, 8.0)}


def log(message: str) -> None:
    print(f"[bench.chart {time.strftime('%H:%M:%S', time.gmtime())} UTC] {message}", flush=True)


def prepare(pg_url: str, db_name: str) -> None:
    import subprocess

    import psycopg

    with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True, timeout=300)


def seed(workers: int, days: int, now: datetime) -> dict:
    from django.db import connection

    from bench.provision import provision
    from devices import partitions

    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.monotonic()
    provision(workers)
    metrics = ", ".join(f"('{m}', {base}, {spread})" for m, (base, spread) in METRICS.items())
    with connection.cursor() as cursor:
        for day in range(days, 0, -1):
            start = today - timedelta(days=day)
            # A smooth daily curve per worker and metric, with noise.
            cursor.execute(
                "INSERT INTO devices_readingminute (worker_id, metric, minute, count, mean, min, max) "
                "SELECT w.id, m.metric, t, 12, v, v - m.spread / 4, v + m.spread / 4 FROM workers_worker w "
                f"CROSS JOIN (VALUES {metrics}) AS m(metric, base, spread) "
                "CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, '1 minute') AS t "
                "CROSS JOIN LATERAL (SELECT m.base + m.spread * sin(extract(epoch FROM t) / 13751 + w.id) "
                "+ m.spread / 8 * random() AS v) AS x",
                [start, start + timedelta(days=1) - timedelta(minutes=1)],
            )
        log(f"{days} days of minute summaries in {time.monotonic() - started:.0f} s")
        partitions.hours_roll_up(today - timedelta(days=days), today)
        cursor.execute(
            "INSERT INTO devices_reading (device_id, worker_id, metric, value, measured_at, received_at) "
            "SELECT d.id, d.worker_id, m.metric, m.base + m.spread * random(), t, t FROM devices_device d "
            f"CROSS JOIN (VALUES {metrics}) AS m(metric, base, spread) "
            "CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, '5 seconds') AS t",
            [today, now],
        )
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour > today:
            partitions.range_roll_up(today, hour)  # what beat's hourly runs have done by now
        # As in steady state: vacuumed (visibility map set) and analysed.
        cursor.execute("VACUUM (ANALYZE) devices_readingminute, devices_readinghour, devices_reading")
        counts = _counts(cursor)
    log(f"seeded in {time.monotonic() - started:.0f} s: {counts}")
    return counts


def _counts(cursor) -> dict:
    counts = {}
    for table in ("devices_readingminute", "devices_readinghour", "devices_reading"):
        cursor.execute(f"SELECT count(*) FROM {table}")
        counts[table] = cursor.fetchone()[0]
    return counts


def reused() -> tuple[dict, datetime]:
    """The rows of a kept database, and the time it was seeded up to."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(measured_at) FROM devices_reading")
        now = cursor.fetchone()[0]
        return _counts(cursor), now


def clinician():
    from django.contrib.auth import get_user_model

    from workers.models import Site, StaffProfile, StaffRole

    user, created = get_user_model().objects.get_or_create(username="bench-clinician")
    if created:  # (a reused database has them already: access-log rows keep a user)
        profile = StaffProfile.objects.create(user=user, role=StaffRole.CLINICIAN)
        profile.sites.set(Site.objects.filter(code="bench"))
    return user


def time_charts(requests: int, now: datetime) -> dict:
    from rest_framework.test import APIClient

    from desk.selectors import CHART_RANGES
    from workers.models import Worker

    client = APIClient()
    client.force_authenticate(clinician())
    worker_ids = list(Worker.objects.values_list("pk", flat=True))
    rng = random.Random(7)
    results = {}
    for key, span, resolution in CHART_RANGES:
        if key == "1h":
            continue
        params = {"from": (now - span).isoformat(), "to": now.isoformat(), "resolution": resolution}
        for _ in range(5):  # warm-up
            assert client.get(f"/api/v1/workers/{worker_ids[0]}/readings/", params).status_code == 200
        times, buckets = [], 0
        for _ in range(requests):
            worker_id = rng.choice(worker_ids)
            started = time.perf_counter()
            response = client.get(f"/api/v1/workers/{worker_id}/readings/", params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:200]
            buckets = len(response.json()["buckets"])
        from healthhub.stats import percentile

        results[key] = {
            "span_days": span.days,
            "resolution": resolution,
            "buckets_per_chart": buckets,
            "requests": requests,
            "p50_ms": percentile(times, 50),
            "p95_ms": percentile(times, 95),
            "max_ms": max(times),
        }
        log(f"{key} ({resolution}): p50 {results[key]['p50_ms']:.1f} ms, p95 {results[key]['p95_ms']:.1f} ms")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chart", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200, help="workers with a month of history (200)")
    parser.add_argument("--days", type=int, default=30, help="closed days of minute summaries (30)")
    parser.add_argument("--requests", type=int, default=200, help="charts asked for per range (200)")
    parser.add_argument("--db-name", default="healthhub_bench_chart", help="database dropped and re-created")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server")
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "bench-chart.json")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database afterwards")
    parser.add_argument(
        "--reuse-db", action="store_true", help="time the charts of a database kept by --keep-db (no seeding)"
    )
    args = parser.parse_args(argv)
    if urlsplit(args.pg_url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("the bench only targets this machine's loopback address")
    os.chdir(ROOT)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="healthhub.settings",
        DATABASE_URL=f"{args.pg_url.rstrip('/')}/{args.db_name}",
        DEBUG="false",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("REDIS_URL", None)
    started = time.monotonic()
    if not args.reuse_db:
        log(f"database {args.db_name}: drop, create, migrate")
        prepare(args.pg_url, args.db_name)
    import django

    django.setup()
    from django.db import connections

    from bench.report import machine_description

    try:
        if args.reuse_db:
            counts, now = reused()
        else:
            now = datetime.now(UTC)
            counts = seed(args.workers, args.days, now)
        charts = time_charts(args.requests, now)
    finally:
        connections.close_all()
        if not args.keep_db:
            import psycopg

            with psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    month = charts["1m"]
    report = {
        "generated_at": now.isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": {**machine_description(args.pg_url), "cpus": os.cpu_count()},
        "params": {"workers": args.workers, "days": args.days, "requests": args.requests, "metrics": list(METRICS)},
        "rows": counts,
        "charts": charts,
        "target": {
            "what": "a worker's 30-day chart, p95",
            "target_ms": TARGET_P95_MS,
            "measured_ms": month["p95_ms"],
            "met": month["p95_ms"] < TARGET_P95_MS,
        },
    }
    import json

    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2, default=str))
    print(
        f"30-day chart p95 {month['p95_ms']:.1f} ms (target < {TARGET_P95_MS:.0f} ms): "
        f"{'met' if report['target']['met'] else 'MISSED'}; report written to {args.report}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
