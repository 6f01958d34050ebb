"""``manage.py demo``: the whole demo in one terminal.

Starts the ASGI server (uvicorn, one process: with the embedded defaults the
in-memory channel layer and the in-process Celery tasks only work inside a
single process), waits until it answers, then drives the seeded wearables
from this process's event loop until Ctrl-C, and stops the server on the
way out. ``make demo`` runs ``migrate`` and ``seed_demo`` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from healthhub.env import env_int
from healthhub.serve import uvicorn_command
from simulation.management.commands.seed_demo import format_logins
from simulation.management.commands.simulate_wearables import (
    add_simulation_arguments,
    build_simulator,
    describe,
    run_until_stopped,
)
from simulation.simulator import MIXED


class Command(BaseCommand):
    help = (
        "Run the demo: the ASGI server and simulated wearables for the devices seeded by seed_demo, "
        "until Ctrl-C. Run `manage.py migrate` and `manage.py seed_demo` first (make demo does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=env_int("PORT", 8000), help="HTTP port (default: PORT, or 8000)"
        )
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
        add_simulation_arguments(parser, workers_default=50)
        # The demo shows one of each episode unless told otherwise (--scenario none).
        parser.set_defaults(scenario=MIXED)

    def handle(self, *args: Any, port: int, host: str, duration: float | None, **options: Any) -> None:
        url = f"ws://{host}:{port}/ws/devices/v1/"
        simulator = build_simulator(url, options, self.stdout)
        self._check_migrated()
        self._check_port_free(host, port)
        # WhiteNoise can serve from the finders, but collected files are
        # what it serves fastest, and it warns while var/static is missing.
        call_command("collectstatic", interactive=False, verbosity=0)

        server = self._start_server(host, port)
        try:
            self._wait_until_up(server, host, port)
            base_url = f"http://{host}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"healthhub is running at {base_url}"))
            self.stdout.write(format_logins(base_url))
            self.stdout.write(f"Simulating {describe(simulator)}. Ctrl-C stops the demo.")
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(self._run(simulator, server, duration, options["status_every"]))
        finally:
            self._stop_server(server)
        self.stdout.write("Demo stopped: " + simulator.report().line())

    async def _run(
        self, simulator: Any, server: subprocess.Popen[bytes], duration: float | None, status_every: float
    ) -> None:
        async def watch_server() -> None:
            # Without the server the simulator would retry forever: end the demo.
            # Polling, because waiting for a Popen in a thread would keep
            # asyncio.run from returning until the server had exited.
            while server.poll() is None:  # noqa: ASYNC110
                await asyncio.sleep(1)
            self.stderr.write(f"The server exited (code {server.returncode}); stopping the demo.")
            simulator.stop()

        watchdog = asyncio.create_task(watch_server())
        try:
            await run_until_stopped(simulator, duration, status_every, self.stdout)
        finally:
            watchdog.cancel()

    def _check_migrated(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("The database is not migrated: run `python manage.py migrate` first.")

    def _check_port_free(self, host: str, port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise CommandError(f"Cannot listen on {host}:{port} ({exc.strerror}); try --port.") from None

    def _start_server(self, host: str, port: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
        # Task and request chatter would drown the demo's own output.
        env.setdefault("LOG_LEVEL", "WARNING")
        command = uvicorn_command(host=host, port=port)
        # Its own process group: Ctrl-C reaches this command only, which then
        # stops the simulator first and the server last.
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, process_group=0)

    def _wait_until_up(self, server: subprocess.Popen[bytes], host: str, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"The server exited with code {server.returncode} (see its output above).")
            try:
                conn = http.client.HTTPConnection(host, port, timeout=2)
                try:
                    conn.request("GET", "/accounts/login/")
                    if conn.getresponse().status < 500:
                        return
                finally:
                    conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise CommandError(f"The server did not answer on {host}:{port} within {timeout:.0f} s.")

    def _stop_server(self, server: subprocess.Popen[bytes]) -> None:
        if server.poll() is not None:
            return
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
