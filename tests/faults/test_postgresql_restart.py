"""PostgreSQL restarted under a running ASGI server: SOS presses before,
during and after; ingestion resumes promptly after the database returns.

The shared PostgreSQL server is never stopped: the test creates a cluster of
its own under a temporary directory (initdb, pg_ctl), migrates it, and runs
the server on it with the production connection pool. Tasks run in the
server's process (no Redis: the fault is the database's), so an SOS is
judged as soon as it is stored. The site's clinician, on call, watches the
triage dashboard throughout (reconnecting as the page does) and has a phone
subscribed to Web Push at a local push service: each SOS must reach both
within 30 s of the database's return.

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

from tests.alerts.push_receiver import PushService
from tests.faults.test_sos_through_faults import DELIVERY_BOUND_S, REPORTS, Dashboard, Wearer, press_by_socket
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

    def sos_alerts(self, worker_id: int) -> list[int]:
        """The ids of the worker's SOS alerts."""
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            rows = conn.execute(
                "SELECT id FROM alerts_alert WHERE worker_id = %s AND kind = 'sos'", [worker_id]
            ).fetchall()
        return [row[0] for row in rows]


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


def manage(cluster: Cluster, *args: str, env: dict[str, str] | None = None) -> str:
    env = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": cluster.url,
        "DJANGO_SETTINGS_MODULE": "tests.faults.pool_settings",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_postgresql_restarted(cluster, tmp_path, settings):
    manage(cluster, "migrate", "--no-input", "-v", "0")
    pager = PushService(settings.NOTIFY["VAPID_PUBLIC_KEY"])
    endpoint, browser = pager.subscribe("clinician-phone")
    out = manage(
        cluster,
        "shell",
        "-c",
        (BASE_DIR / "tests" / "faults" / "provision_cast.py").read_text(),
        env={"PUSH_ENDPOINT": endpoint, "PUSH_P256DH": browser.p256dh, "PUSH_AUTH": browser.auth},
    )
    provisioned = json.loads(out.split("CAST ", 1)[1])
    cast = [Wearer(c["worker_id"], c["token"]) for c in provisioned["wearers"]]
    server = AsgiServer(
        database_url=cluster.url,
        settings_module="tests.faults.pool_settings",
        env={"REDIS_URL": None},
        log_path=tmp_path / "asgi.log",
    )
    server.start()
    board = Dashboard(server, provisioned["session"], pager)
    board.start()
    try:
        pressed = {0: time.monotonic()}
        assert press_by_socket(server, cast[0])["accepted"] == 1  # before
        cluster.stop()
        pressed_during = datetime.now(UTC)
        pressed[1] = time.monotonic()
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
        pressed[2] = time.monotonic()
        assert press_by_socket(server, cast[2])["accepted"] == 1  # after
        # Each SOS on the desk and the phone (the one pressed before may
        # have gone both ways before the fault).
        deadline = max(returned, pressed[2]) + DELIVERY_BOUND_S
        rows = []
        for index, wearer in enumerate(cast):
            alert_ids = cluster.sos_alerts(wearer.worker_id)
            while time.monotonic() < deadline and not (
                alert_ids and alert_ids[0] in board.seen and board.pushed(alert_ids[0])
            ):
                time.sleep(0.2)
                alert_ids = cluster.sos_alerts(wearer.worker_id)
            assert len(alert_ids) == 1, f"press {index}: {len(alert_ids)} SOS alerts"
            seen, pushed = board.seen.get(alert_ids[0]), board.pushed(alert_ids[0])
            assert seen and pushed, f"press {index}: desk {bool(seen)}, phone {bool(pushed)}; closes {board.closes}"
            since = max(returned, pressed[index])
            rows.append(
                {
                    "press": ("before", "during", "after")[index],
                    "raised": len(alert_ids),
                    "delay_after_return_s": round(max(0.0, seen - since), 2),
                    "push_delay_after_return_s": round(max(0.0, pushed - since), 2),
                }
            )
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "postgresql_restarted.json").write_text(
            json.dumps(
                {
                    "fault": "postgresql_restarted",
                    "resumed_after_s": round(resumed, 2),
                    "presses": rows,
                    "dashboard_close_codes": board.closes,
                },
                indent=2,
            )
        )
        assert resumed <= RESUME_BOUND_S, f"ingestion resumed {resumed:.1f} s after PostgreSQL returned"
    finally:
        board.stop()
        server.kill()
        pager.close()
