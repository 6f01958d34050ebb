"""PostgreSQL restarted under a running ASGI server: SOS presses before,
during and after; ingestion resumes promptly after the database returns.

The shared PostgreSQL server is never stopped: the test creates a cluster of
its own under a temporary directory (initdb, pg_ctl), migrates it, and runs
the server on it with the production connection pool. Tasks run in the
server's process (no Redis: the fault is the database's), so an SOS is
judged as soon as it is stored; the dashboards' side of delivery is covered
by the Redis and Celery faults (test_sos_through_faults.py).

    HEALTHHUB_FAULT_TESTS=1 .venv/bin/python -m pytest -m faults tests/faults/test_postgresql_restart.py
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.faults.test_sos_through_faults import REPORTS, Wearer, press_by_socket
from tests.live import BASE_DIR, AsgiServer, free_port

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(
        os.environ.get("HEALTHHUB_FAULT_TESTS") != "1", reason="fault tests run on their own: HEALTHHUB_FAULT_TESTS=1"
    ),
    pytest.mark.skipif(not BINARIES, reason="needs PostgreSQL's initdb and pg_ctl to run a cluster of its own"),
]
RESUME_BOUND_S = 2.0


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.bin = Path(BINARIES[-1])
        self.data = directory / "pgdata"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/healthhub"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120, **self._as_postgres())

    def _as_postgres(self) -> dict:
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        if os.geteuid() != 0:
            return {}
        import pwd

        user = pwd.getpwnam("postgres")
        return {"user": user.pw_uid, "group": user.pw_gid}

    def init(self) -> None:
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth", "trust", "-E", "UTF8")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "healthhub")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", str(self.data / "log"), "start"
        )

    def stop(self) -> None:
        # Immediate: as a crash, without a clean shutdown of the clients.
        subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
            **self._as_postgres(),
        )

    def sos_alerts(self, worker_id: int) -> int:
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            row = conn.execute(
                "SELECT count(*) FROM alerts_alert WHERE worker_id = %s AND kind = 'sos'", [worker_id]
            ).fetchone()
        return row[0]


@pytest.fixture
def cluster(tmp_path_factory):
    directory = Path(f"/tmp/healthhub-pg-fault-{os.getpid()}")
    cluster = Cluster(directory)
    try:
        cluster.init()
    except (subprocess.CalledProcessError, KeyError, PermissionError) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip(f"could not create a PostgreSQL cluster of its own: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def manage(cluster: Cluster, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": cluster.url, "DJANGO_SETTINGS_MODULE": "tests.faults.pool_settings"}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_postgresql_restarted(cluster, tmp_path):
    manage(cluster, "migrate", "--no-input", "-v", "0")
    out = manage(cluster, "shell", "-c", (BASE_DIR / "tests" / "faults" / "provision_cast.py").read_text())
    cast = [Wearer(c["worker_id"], c["token"]) for c in json.loads(out.split("CAST ", 1)[1])]
    server = AsgiServer(
        database_url=cluster.url,
        settings_module="tests.faults.pool_settings",
        env={"REDIS_URL": None},
        log_path=tmp_path / "asgi.log",
    )
    server.start()
    try:
        assert press_by_socket(server, cast[0])["accepted"] == 1  # before
        cluster.stop()
        pressed_during = datetime.now(UTC)
        # The device cannot get its batch stored: it is closed (1011) or
        # refused at login; it keeps the SOS and tries again.
        time.sleep(10)
        cluster.start()
        returned = time.monotonic()
        ack, resumed = None, None
        while time.monotonic() - returned < 30:
            try:
                ack = press_by_socket(server, cast[1], at=pressed_during)
            except Exception:
                time.sleep(0.1)
                continue
            if ack.get("type") == "ack":
                resumed = time.monotonic() - returned
                break
            time.sleep(0.1)
        assert ack is not None and ack["accepted"] == 1, ack
        assert press_by_socket(server, cast[2])["accepted"] == 1  # after
        alerts = [cluster.sos_alerts(w.worker_id) for w in cast]
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "postgresql_restarted.json").write_text(
            json.dumps({"fault": "postgresql_restarted", "resumed_after_s": round(resumed, 2), "alerts": alerts})
        )
        assert alerts == [1, 1, 1]
        assert resumed <= RESUME_BOUND_S, f"ingestion resumed {resumed:.1f} s after PostgreSQL returned"
    finally:
        server.kill()
