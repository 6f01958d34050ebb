"""The bench's verdict: a table on the terminal and the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The targets, in the words of the brief; evaluated on every run.
THROUGHPUT_MIN = 20_000  # readings/s stored, batches of 25, none lost
# Of the baseline that commits in groups as healthhub does (the fair limit).
THROUGHPUT_SHARE_OF_BASELINE = 0.8
LATENCY_P95_MAX_MS = 250  # at 1,000 devices x 1 batch / 2 s
CAPACITY_DEVICES = 10_000
MEMORY_RATIO_MAX = 2.5  # MB per 1,000 idle connections, healthhub / baseline


def median_round(runs: list[dict]) -> dict:
    """The round whose throughput is the median (the lower middle of an
    even count): its figures are reported, the others give the spread."""
    ordered = sorted(runs, key=lambda r: _get(r, "throughput", "stored_per_s") or 0.0)
    return ordered[(len(ordered) - 1) // 2]


SPREAD_FIGURES = {
    "stored_per_s": ("throughput", "stored_per_s"),
    "throughput_ack_p95_ms": ("throughput", "p95_ms"),
    "latency_ack_p95_ms": ("latency", "p95_ms"),
    "mb_per_1000": ("memory", "mb_per_1000"),
    "celery_backlog_max": ("throughput", "celery_backlog", "max"),
}


def spread(rounds: dict[str, list[dict]]) -> dict:
    """Per system and figure: every round's value, the median, and the
    spread (max - min) as a share of the median."""
    out: dict[str, dict] = {}
    for system, runs in rounds.items():
        figures = {}
        for name, path in SPREAD_FIGURES.items():
            values = [v for r in runs if (v := _get(r, *path)) is not None]
            if not values:
                continue
            ordered = sorted(values)
            median = (
                ordered[(len(ordered) - 1) // 2]
                if len(ordered) % 2
                else sum(ordered[len(ordered) // 2 - 1 : len(ordered) // 2 + 1]) / 2
            )
            figures[name] = {
                "rounds": values,
                "median": median,
                "spread": (ordered[-1] - ordered[0]) / median if median else None,
            }
        out[system] = figures
    return out


def machine_description(pg_url: str | None = None) -> dict:
    """What the figures were measured on (for the reports under docs/bench/)."""
    import platform
    import subprocess

    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        mem_kib = None
    postgres = None
    if pg_url:
        try:
            postgres = subprocess.run(
                ["psql", f"{pg_url.rstrip('/')}/postgres", "-Atc", "SHOW server_version"],
                capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            postgres = None
    return {
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _get(result: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict):
            return None
        result = result.get(key)
    return result


def targets(results: dict[str, dict], params: dict) -> tuple[dict, list[dict]]:
    hh, base = results.get("healthhub"), results.get("baseline")
    alone = results.get("baseline-alone")
    tput = _get(hh, "throughput", "stored_per_s")
    tput_base = _get(base, "throughput", "stored_per_s")
    lost = _get(hh, "throughput", "lost")
    p95 = _get(hh, "latency", "p95_ms")
    held = _get(hh, "capacity", "held")
    mem = _get(hh, "memory", "mb_per_1000")
    mem_base = _get(base, "memory", "mb_per_1000")
    ratios = {
        # Against the baseline that commits in groups as healthhub does, and
        # against one that commits each batch alone (the first, flattering one).
        "throughput": _ratio(tput, tput_base),
        "throughput_vs_alone_baseline": _ratio(tput, _get(alone, "throughput", "stored_per_s")),
        "latency_p50": _ratio(_get(hh, "latency", "p50_ms"), _get(base, "latency", "p50_ms")),
        "latency_p95": _ratio(p95, _get(base, "latency", "p95_ms")),
        "latency_p99": _ratio(_get(hh, "latency", "p99_ms"), _get(base, "latency", "p99_ms")),
        "memory_per_1000": _ratio(mem, mem_base),
        "cpu_per_1000_readings": _ratio(
            _get(hh, "throughput", "cpu", "ms_per_1000_readings"),
            _get(base, "throughput", "cpu", "ms_per_1000_readings"),
        ),
    }
    lat_devices, lat_interval = params["latency_devices"], params["latency_interval"]
    capacity = params["capacity_devices"]

    def verdict(value: Any, ok: bool | None) -> str:
        if value is None or ok is None:
            return "n/a"
        return "met" if ok else "MISSED"

    rows = [
        {
            "target": f"readings stored/s >= {THROUGHPUT_MIN:,} (batches of {params['batch_size']}), none lost",
            "value": tput,
            "status": verdict(tput, tput is not None and tput >= THROUGHPUT_MIN and lost == 0),
        },
        {
            "target": f"throughput >= {THROUGHPUT_SHARE_OF_BASELINE:g} x the group-committing baseline's",
            "value": ratios["throughput"],
            "status": verdict(
                ratios["throughput"],
                ratios["throughput"] is not None and ratios["throughput"] >= THROUGHPUT_SHARE_OF_BASELINE,
            ),
        },
        {
            "target": f"ack p95 < {LATENCY_P95_MAX_MS} ms at {lat_devices:,} devices x 1 batch/{lat_interval:g} s",
            "value": p95,
            "status": verdict(p95, p95 is not None and p95 < LATENCY_P95_MAX_MS),
        },
        {
            "target": f"{CAPACITY_DEVICES:,} devices held",
            "value": held,
            "status": verdict(held, held is not None and capacity >= CAPACITY_DEVICES and held >= CAPACITY_DEVICES),
        },
        {
            "target": f"memory per 1,000 idle connections <= {MEMORY_RATIO_MAX:g}x baseline",
            "value": ratios["memory_per_1000"],
            "status": verdict(
                ratios["memory_per_1000"],
                ratios["memory_per_1000"] is not None and ratios["memory_per_1000"] <= MEMORY_RATIO_MAX,
            ),
        },
    ]
    return ratios, rows


def _fmt(value: Any, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return format(value, spec)
    return str(value)


def render(report: dict) -> str:
    results = report["results"]
    systems = [s for s in ("healthhub", "baseline", "baseline-alone") if s in results]
    params = report["params"]
    lines = []
    header = f"{'measure':<52}" + "".join(f"{s:>16}" for s in systems) + f"{'ratio':>10}"
    lines.append(header)
    lines.append("-" * len(header))

    def row(label: str, path: tuple[str, ...], spec: str = ",.0f", ratio: str | None = None) -> None:
        cells = "".join(f"{_fmt(_get(results.get(s), *path), spec):>16}" for s in systems)
        r = report["ratios"].get(ratio) if ratio else None
        lines.append(f"{label:<52}{cells}{_fmt(r, '.2f') if ratio else '':>10}")

    n_tp = params["throughput_devices"]
    row(f"readings stored/s ({n_tp:,} devices, closed loop)", ("throughput", "stored_per_s"), ratio="throughput")
    ratio_alone = report["ratios"].get("throughput_vs_alone_baseline")
    width = 16 * len(systems) + 10
    lines.append(f"{'  ratio to the baseline committing each batch alone':<52}{_fmt(ratio_alone, '.2f'):>{width}}")
    row("  Celery backlog, most messages waiting", ("throughput", "celery_backlog", "max"))
    row("  Celery backlog when the load stopped", ("throughput", "celery_backlog", "at_end"))
    row("  steady-state acked readings/s", ("throughput", "steady_per_s"))
    row("  readings acked as accepted", ("throughput", "acked"))
    row("  rows stored", ("throughput", "stored"))
    row("  lost (acked, not stored)", ("throughput", "lost"))
    row("  throughput ack p50 ms", ("throughput", "p50_ms"), ",.1f")
    row("  throughput ack p99 ms", ("throughput", "p99_ms"), ",.1f")
    row(
        "  CPU ms per 1,000 readings (server+PG+Redis+Celery)",
        ("throughput", "cpu", "ms_per_1000_readings"),
        ",.0f",
        ratio="cpu_per_1000_readings",
    )
    row("  server CPU ms per 1,000 readings", ("throughput", "cpu", "server_ms_per_1000_readings"), ",.0f")
    row("  load generator CPU share of the machine", ("throughput", "cpu", "loadgen_share"), ".0%")
    row("  server CPU share of the machine", ("throughput", "cpu", "server_share"), ".0%")
    row("  PostgreSQL CPU share of the machine", ("throughput", "cpu", "postgres_share"), ".0%")
    row("  Celery CPU share of the machine", ("throughput", "cpu", "celery_share"), ".0%")
    row("  other processes' CPU share (not the bench's)", ("throughput", "cpu", "other_share"), ".0%")
    row("    of which stolen by the virtual machine's host", ("throughput", "cpu", "steal_share"), ".0%")
    lat = f"{params['latency_devices']:,} x 1 batch/{params['latency_interval']:g} s"
    row(f"ack latency p50 ms ({lat})", ("latency", "p50_ms"), ",.1f", ratio="latency_p50")
    row("ack latency p95 ms", ("latency", "p95_ms"), ",.1f", ratio="latency_p95")
    row("ack latency p99 ms", ("latency", "p99_ms"), ",.1f", ratio="latency_p99")
    row("  batches acked / sent", ("latency", "acked_of_sent"))
    row("  lost (acked, not stored)", ("latency", "lost"))
    row(f"connections held of {params['capacity_devices']:,}", ("capacity", "held"))
    row("server RSS idle MB", ("memory", "idle_mb"), ",.1f")
    for level in params["levels"]:
        row(f"server RSS with {level:,} idle connections MB", ("memory", "levels", str(level)), ",.1f")
    row("MB per 1,000 idle connections", ("memory", "mb_per_1000"), ",.2f", ratio="memory_per_1000")
    lines.append("")
    lines.append(f"{'target':<72}{'value':>12}  status")
    lines.append("-" * 92)
    for t in report["targets"]:
        value = t["value"]
        spec = ",.0f" if isinstance(value, int) or (isinstance(value, float) and value >= 100) else ",.2f"
        lines.append(f"{t['target']:<72}{_fmt(value, spec):>12}  {t['status']}")
    rounds = report["params"].get("rounds", 1)
    if rounds > 1:
        lines.append("")
        lines.append(f"over {rounds} interleaved rounds (figures above: the median round by throughput):")
        for system, figures in report.get("spread", {}).items():
            for name, figure in figures.items():
                values = ", ".join(_fmt(v, ",.1f") for v in figure["rounds"])
                lines.append(
                    f"  {system:<15} {name:<24} median {_fmt(figure['median'], ',.1f'):>10}"
                    f"  spread {_fmt(figure['spread'], '.0%'):>5}  ({values})"
                )
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
