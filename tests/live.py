"""A real ASGI server (uvicorn) in a subprocess, on the test database.

For tests that need real sockets: the wearable simulator, fault tests that
kill the server mid-run and start it again on the same port, browser tests.
Use the ``asgi_server`` fixture (a started server, stopped after the test)
with ``@pytest.mark.live`` and ``@pytest.mark.django_db(transaction=True)``:
the server is another process, so it only sees committed data, and the
transactional test flushes what it wrote afterwards.

    server.stop()   # graceful (SIGTERM), as in a deploy
    server.kill()   # abrupt (SIGKILL), as in a crash
    server.start()  # again, same port and database

The server runs ``tests.settings`` (the test overrides in one place: fast
hashing, Celery in-process, no connection pool that would keep the test
database from being dropped) with ``DATABASE_URL`` pointing at the test
database. ``REDIS_URL`` is passed on when the suite runs with it, so the
test process and the server share the Redis channel layer (a revoke in the
test reaches the server's sockets); pass ``env={"REDIS_URL": None}`` to get
the in-memory layer instead.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from healthhub.serve import uvicorn_command

BASE_DIR = Path(__file__).resolve().parent.parent
DEVICES_PATH = "/ws/devices/v1/"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A ``DATABASE_URL`` for the database a connection's settings describe
    (after pytest-django's setup, that is the test database)."""
    engine = settings_dict["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        path = Path(settings_dict["NAME"]).resolve()
        return f"sqlite:///{path}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"
    raise NotImplementedError(f"no DATABASE_URL for {engine}")


class AsgiServer:
    """uvicorn serving ``healthhub.asgi`` in a subprocess; can be stopped or
    killed and started again on the same port."""

    def __init__(
        self,
        *,
        database_url: str,
        port: int | None = None,
        host: str = "127.0.0.1",
        settings_module: str = "tests.settings",
        env: Mapping[str, str | None] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path or BASE_DIR / "var" / f"asgi-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONUNBUFFERED": "1",
        }
        for name, value in (env or {}).items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ws_url(self, path: str = DEVICES_PATH) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and return once it answers HTTP; RuntimeError
        (with the server's log) if it exits or does not answer in time."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = uvicorn_command(host=self.host, port=self.port, graceful_shutdown_s=2)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the ASGI server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the ASGI server did not answer within {timeout} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
            try:
                conn.request("GET", "/accounts/login/")
                return conn.getresponse().status < 500
            finally:
                conn.close()
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM): open sockets are closed by the server."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Abrupt end (SIGKILL), as in a crash: connections just drop."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def asgi_server(transactional_db, tmp_path) -> Iterator[AsgiServer]:
    """A started server on the test database, stopped after the test (before
    the test's data is flushed)."""
    from django.db import connection

    server = AsgiServer(database_url=database_url(connection.settings_dict), log_path=tmp_path / "asgi.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisServer:
    """A redis-server of the test's own, without persistence: a restart
    loses everything it held (queued tasks, groups)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.command("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def command(self, *args: str) -> str | None:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=5, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else None

    def refuse_writes(self, refuse: bool) -> None:
        # Without replicas, "at least one replica" refuses every write (NOREPLICAS).
        assert self.command("CONFIG", "SET", "min-replicas-to-write", "1" if refuse else "0") == "OK"
