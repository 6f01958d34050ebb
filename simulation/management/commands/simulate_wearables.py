"""``manage.py simulate_wearables``: drive the demo devices against a running server.

A thin command over ``simulation.simulator``: it reads the devices file written
by ``manage.py seed_demo``, runs the simulator until ``--duration`` ends or
Ctrl-C, prints a status line every few seconds and a summary at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from simulation.management.commands.seed_demo import default_devices_file
from simulation.physiology import Scenario
from simulation.simulator import MIXED, DevicesFileError, Simulator, load_device_specs

NO_SCENARIO = "none"
SCENARIOS = [s.value for s in Scenario] + [MIXED, NO_SCENARIO]


def add_simulation_arguments(parser: CommandParser, *, workers_default: int | None) -> None:
    """The simulator options shared by simulate_wearables and demo."""
    parser.add_argument(
        "--workers",
        type=int,
        default=workers_default,
        help="how many devices to drive: the first N of the devices file"
        + (" (default: all)" if workers_default is None else f" (default {workers_default})"),
    )
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between samples (default 2)")
    parser.add_argument(
        "--batch-size", type=int, default=1, help="samples per batch (default 1: one batch per interval)"
    )
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default=None,
        help="a scripted episode for the first --scenario-workers workers ('mixed': one of each in turn; "
        "'none': a normal shift for everyone)",
    )
    parser.add_argument(
        "--scenario-workers",
        type=int,
        default=None,
        help=f"how many workers get the episode (default 1; {len(Scenario)} with 'mixed')",
    )
    parser.add_argument(
        "--scenario-after",
        type=float,
        default=None,
        help="seconds of normal data before it starts (default 60, or a third of a shorter --duration)",
    )
    parser.add_argument(
        "--scenario-ramp", type=float, default=120.0, help="seconds for it to reach full strength (default 120)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the physiology (default 1)")
    parser.add_argument(
        "--devices-file", type=Path, default=None, help="tokens file from seed_demo (default var/demo-devices.json)"
    )
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines (0: none)")


DEFAULT_SCENARIO_AFTER_S = 60.0


def scenario_start(after: float | None, duration: float | None) -> float:
    """When the episode starts: as asked, or 60 s of normal data first; a
    run shorter than three minutes starts it a third of the way in, so that
    ``--scenario sos --duration 30`` shows its episode before it ends."""
    if after is not None:
        return after
    if duration:
        return min(DEFAULT_SCENARIO_AFTER_S, duration / 3)
    return DEFAULT_SCENARIO_AFTER_S


def build_simulator(url: str, options: dict[str, Any], stdout: OutputWrapper) -> Simulator:
    """A Simulator from the parsed options; CommandError for bad input."""
    workers = options["workers"]
    if workers is not None and workers < 1:
        raise CommandError("--workers must be at least 1")
    try:
        specs = load_device_specs(options["devices_file"] or default_devices_file(), workers)
    except DevicesFileError as exc:
        raise CommandError(str(exc)) from None
    scenario = None if options["scenario"] == NO_SCENARIO else options["scenario"]
    scenario_workers = options["scenario_workers"]
    if scenario_workers is None:
        scenario_workers = len(Scenario) if scenario == MIXED else 1

    def on_alert(serial: str, alert: dict[str, Any]) -> None:
        stdout.write(f"alert → {serial}: [{alert.get('severity')}] {alert.get('kind')}: {alert.get('message')}")

    try:
        return Simulator(
            url,
            specs,
            interval=options["interval"],
            batch_size=options["batch_size"],
            scenario=scenario,
            scenario_workers=scenario_workers,
            scenario_after=scenario_start(options["scenario_after"], options.get("duration")),
            scenario_ramp=options["scenario_ramp"],
            seed=options["seed"],
            # Long demo runs: keep counters, not every reading.
            record_readings=False,
            # After Ctrl-C, wait only briefly for outstanding acks.
            drain_timeout=3.0,
            on_alert=on_alert,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def describe(simulator: Simulator) -> str:
    episodes = [
        f"{d.spec.employee_number or d.spec.serial}: {d.stats.scenario}" for d in simulator.devices if d.stats.scenario
    ]
    text = f"{len(simulator.devices)} wearables, a sample every {simulator.interval:g} s"
    if episodes:
        text += " · scripted episodes: " + ", ".join(episodes)
    return text


async def run_until_stopped(
    simulator: Simulator, duration: float | None, status_every: float, stdout: OutputWrapper
) -> None:
    """Run the simulator; Ctrl-C (or SIGTERM) ends it gracefully: outstanding
    acks are awaited briefly and the connections closed. A second Ctrl-C
    ends it at once."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            stdout.write("Stopping… (Ctrl-C again to quit at once)")
            simulator.stop()
        elif main is not None:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)

    async def status() -> None:
        while True:
            await asyncio.sleep(status_every)
            stdout.write(simulator.report().line())

    reporter = asyncio.create_task(status()) if status_every > 0 else None
    try:
        await simulator.run(duration)
    finally:
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class Command(BaseCommand):
    help = (
        "Simulate wearables speaking device protocol v1 over WebSockets, with believable physiology and "
        "optional scripted episodes. Reads device tokens from the file written by seed_demo."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="ws://127.0.0.1:8000/ws/devices/v1/", help="the server's device endpoint")
        parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
        add_simulation_arguments(parser, workers_default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        simulator = build_simulator(options["url"], options, self.stdout)
        self.stdout.write(f"Simulating {describe(simulator)} → {options['url']} (Ctrl-C to stop)")
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(run_until_stopped(simulator, options["duration"], options["status_every"], self.stdout))
        report = simulator.report()
        self.stdout.write("Done: " + report.line())
        for serial, reason in report.stopped.items():
            self.stderr.write(f"{serial} was stopped: {reason}")
