"""Every SOS reaches a person through the faults of a real deployment.

Each test runs the whole stack as separate processes on PostgreSQL: an ASGI
server (uvicorn), a Celery worker and celery beat, on a Redis server of the
test's own (a free port, no persistence) so that it can be killed, restarted
or made to refuse writes without touching anyone else's. SOS presses come
before, during and after the fault from separate workers; a clinician's
dashboard is connected throughout, reconnecting as the page does and
reloading the open alerts when it does, and the same clinician, on call,
has a phone subscribed to Web Push (a local push service that decrypts each
message, tests/alerts/push_receiver.py). Each SOS must become exactly one
alert and reach both the dashboard and the phone within 30 s of the service
returning.

Run on their own (they start and kill processes; about five minutes):

    HEALTHHUB_FAULT_TESTS=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python -m pytest -m faults tests/faults -p no:cacheprovider

Each test writes its figures (pressed, raised, delivered, delay after the
service returned) to var/faults/<fault>.json; docs/durable.md has the table.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from alerts.models import Alert
from devices.models import EvaluationDue
from devices.services import device_provision
from tests.alerts.push_receiver import PushService
from tests.conftest import consented
from tests.factories import DepartmentFactory, WorkerFactory
from tests.faults.people import on_call_with_a_phone
from tests.live import BASE_DIR, AsgiServer, RedisServer, database_url

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("HEALTHHUB_FAULT_TESTS") != "1", reason="fault tests run on their own: HEALTHHUB_FAULT_TESTS=1"
    ),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to start a Redis of its own"),
]

SETTINGS = "tests.faults.settings"
DELIVERY_BOUND_S = 30.0
REPORTS = BASE_DIR / "var" / "faults"


@pytest.fixture(autouse=True)
def _postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("fault tests run the server, worker and beat as processes on PostgreSQL (DATABASE_URL)")


# --- Processes ---------------------------------------------------------------------


class CeleryProcess:
    """A Celery worker or beat, supervised as compose's ``restart:
    unless-stopped`` (or systemd's Restart=always) does: if it exits on its
    own it is started again. A Celery worker exits on a Redis error that is
    not a connection error (e.g. NOREPLICAS when Redis refuses writes)."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args, self.env, self.log_path = args, env, log_path
        self.process: subprocess.Popen | None = None
        self.wanted = False
        self.restarts = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", *self.args],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        with self.lock:
            self.wanted = True
            self._spawn()

    def _supervise(self) -> None:
        while True:
            time.sleep(1.0)
            with self.lock:
                if self.wanted and self.process is not None and self.process.poll() is not None:
                    self.restarts += 1
                    self._spawn()

    def kill(self) -> None:
        with self.lock:
            self.wanted = False
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@dataclass
class Stack:
    redis: RedisServer
    server: AsgiServer
    worker: CeleryProcess
    beat: CeleryProcess


@pytest.fixture
def stack(transactional_db, tmp_path) -> Iterator[Stack]:
    redis = RedisServer(tmp_path)
    redis.start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis.url,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONUNBUFFERED": "1",
        "FAULT_EVALUATION_DELAY_S": "1.5",  # long enough to kill a worker mid-evaluation
    }
    server = AsgiServer(
        database_url=env["DATABASE_URL"],
        settings_module=SETTINGS,
        env={"REDIS_URL": redis.url},
        log_path=tmp_path / "asgi.log",
    )
    worker = CeleryProcess(
        ["-A", "tests.faults.worker_app", "worker", "-Q", "urgent,celery", "--pool", "threads", "--concurrency", "2",
         "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env,
        tmp_path / "worker.log",
    )  # fmt: skip
    beat = CeleryProcess(
        ["-A", "healthhub", "beat", "--loglevel", "INFO", "-s", str(tmp_path / "beat-schedule")],
        env,
        tmp_path / "beat.log",
    )
    server.start()
    worker.start()
    beat.start()
    try:
        yield Stack(redis=redis, server=server, worker=worker, beat=beat)
    finally:
        beat.kill()
        worker.kill()
        server.kill()
        redis.kill()
        for name in ("asgi.log", "worker.log", "beat.log"):
            destination = REPORTS / "logs"
            destination.mkdir(parents=True, exist_ok=True)
            if (tmp_path / name).exists():
                shutil.copy(tmp_path / name, destination / name)


# --- The people ----------------------------------------------------------------------


@dataclass
class Wearer:
    worker_id: int
    token: str


@pytest.fixture
def wearers(site_a, consent_text) -> list[Wearer]:
    department = DepartmentFactory(site=site_a, name="Press shop")
    people = []
    for index in range(5):
        worker = consented(WorkerFactory(department=department))
        _, token = device_provision(serial=f"F-{index}", worker=worker)
        people.append(Wearer(worker.pk, token))
    return people


class Dashboard:
    """A clinician's triage page, as triage.js behaves: listens on
    /ws/alerts/, reconnects after a close with a short backoff, and reloads
    the open alerts (the API) on every reconnection, since events may have
    been missed meanwhile. Records when it first saw each SOS alert."""

    def __init__(self, server: AsgiServer, session: str, pager: PushService) -> None:
        self.server, self.session, self.pager = server, session, pager
        self.seen: dict[int, float] = {}
        self.closes: list[int | None] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def pushed(self, alert_id: int) -> float | None:
        """When the clinician's phone first got a push about the alert."""
        return next((m.at for m in list(self.pager.received) if m.payload.get("tag") == f"alert-{alert_id}"), None)

    def _saw(self, alert: dict) -> None:
        if alert.get("kind") == "sos":
            self.seen.setdefault(int(alert["id"]), time.monotonic())

    def _reload(self) -> None:
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=5)
        try:
            conn.request("GET", "/api/v1/alerts/?kind=sos", headers={"Cookie": f"sessionid={self.session}"})
            response = conn.getresponse()
            if response.status != 200:
                return
            body = json.loads(response.read())
        finally:
            conn.close()
        for alert in body["results"] if isinstance(body, dict) else body:
            self._saw(alert)

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        while not self.stopping.is_set():
            try:
                with connect(
                    self.server.ws_url("/ws/alerts/"),
                    additional_headers={"Cookie": f"sessionid={self.session}", "Origin": self.server.http_url},
                    open_timeout=3,
                ) as socket:
                    self._reload()
                    while not self.stopping.is_set():
                        try:
                            message = json.loads(socket.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message.get("type") == "alert":
                            self._saw(message["alert"])
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except (OSError, TimeoutError, json.JSONDecodeError):
                self.closes.append(None)
            except Exception:  # the handshake refused (e.g. a 500): the page retries too
                self.closes.append(-1)
            self.stopping.wait(0.5)


@pytest.fixture
def dashboard(stack, clara, site_a, wearers, settings) -> Iterator[Dashboard]:
    pager = PushService(settings.NOTIFY["VAPID_PUBLIC_KEY"])
    endpoint, browser = pager.subscribe("clara-phone")
    on_call_with_a_phone(clara, site_a, endpoint, browser.p256dh, browser.auth)
    client = Client()
    client.force_login(clara)
    board = Dashboard(stack.server, client.cookies["sessionid"].value, pager)
    board.start()
    # The stack is up when a first SOS (a fifth wearer's) has gone all the way
    # to the desk and the phone: presses are timed from a running worker, not
    # from its start-up.
    warm_up = wearers[4]
    assert press_by_socket(stack.server, warm_up)["accepted"] == 1
    deadline = time.monotonic() + 60
    while not any(
        a in board.seen and board.pushed(a)
        for a in Alert.objects.filter(worker_id=warm_up.worker_id).values_list("pk", flat=True)
    ):
        assert time.monotonic() < deadline, "the stack never delivered a first SOS to the desk and the phone"
        time.sleep(0.2)
    yield board
    board.stop()
    pager.close()


# --- Pressing SOS --------------------------------------------------------------------


def sos_batch(seq: int, at: datetime) -> dict:
    return {"type": "readings", "seq": seq, "readings": [{"metric": "sos", "value": 1, "at": at.isoformat()}]}


def press_by_socket(server: AsgiServer, wearer: Wearer, at: datetime | None = None) -> dict:
    """Connect as the wearable, send one SOS batch, return the ack."""
    from websockets.sync.client import connect

    with connect(
        server.ws_url(), additional_headers={"Authorization": f"Bearer {wearer.token}"}, open_timeout=5
    ) as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"
        socket.send(json.dumps(sos_batch(1, at or datetime.now(UTC))))
        return json.loads(socket.recv(timeout=10))


def press_by_http(server: AsgiServer, wearer: Wearer, at: datetime | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=15)
    try:
        conn.request(
            "POST",
            "/api/v1/ingest/",
            body=json.dumps(sos_batch(1, at or datetime.now(UTC))),
            headers={"Authorization": f"Bearer {wearer.token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@dataclass
class Press:
    label: str  # before / during / after
    wearer: Wearer
    pressed: float  # monotonic
    ack: dict = field(default_factory=dict)


def expect_every_sos_delivered(
    fault: str, presses: list[Press], dashboard: Dashboard, returned: float, extra: dict | None = None
) -> list[dict]:
    """Each press is exactly one SOS alert, seen by the dashboard and pushed
    to the on-call clinician's phone within DELIVERY_BOUND_S of the service's
    return (or of the press, if later). Writes the fault's figures to
    var/faults/<fault>.json."""
    deadline = max(returned, max(p.pressed for p in presses)) + DELIVERY_BOUND_S + 5
    rows: list[dict] = []
    for press in presses:
        alert = None
        while time.monotonic() < deadline:
            alerts = list(Alert.objects.filter(worker_id=press.wearer.worker_id, kind="sos"))
            assert len(alerts) <= 1, f"{press.label}: one press became {len(alerts)} alerts"
            if alerts and alerts[0].pk in dashboard.seen and dashboard.pushed(alerts[0].pk):
                alert = alerts[0]
                break
            time.sleep(0.2)
        raised = list(Alert.objects.filter(worker_id=press.wearer.worker_id, kind="sos").values_list("pk", flat=True))
        missing = [
            where for where, got in (("desk", raised and raised[0] in dashboard.seen),
                                     ("phone", raised and dashboard.pushed(raised[0]))) if not got
        ]  # fmt: skip
        assert alert is not None, (
            f"{fault}: the SOS pressed {press.label} the fault was "
            f"{f'raised but did not reach the {missing}' if raised else 'never raised'} "
            f"(dashboard closes {dashboard.closes}, pushes {len(dashboard.pager.received)})"
        )
        delivered, pushed = dashboard.seen[alert.pk], dashboard.pushed(alert.pk)
        since = max(returned, press.pressed)
        rows.append(
            {
                "press": press.label,
                "raised": len(raised),
                "delivered": True,
                "pushed": True,
                "delivery_after_press_s": round(delivered - press.pressed, 2),
                "delay_after_return_s": round(max(0.0, delivered - since), 2),
                "push_after_press_s": round(pushed - press.pressed, 2),
                "push_delay_after_return_s": round(max(0.0, pushed - since), 2),
                "message": alert.message,
                "evidence": {k: v for k, v in alert.evidence.items() if k != "readings"},
            }
        )
        assert max(delivered, pushed) - since <= DELIVERY_BOUND_S, rows[-1]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{fault}.json").write_text(json.dumps({"fault": fault, "presses": rows, **(extra or {})}, indent=2))
    return rows


def before(stack: Stack, wearer: Wearer) -> Press:
    press = Press("before", wearer, time.monotonic())
    press.ack = press_by_socket(stack.server, wearer)
    assert press.ack["accepted"] == 1
    return press


# --- The faults ----------------------------------------------------------------------


def test_celery_worker_killed_mid_evaluation(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    during = Press("during", wearers[1], time.monotonic())
    during.ack = press_by_socket(stack.server, wearers[1])
    assert during.ack["accepted"] == 1
    # Wait until a worker has claimed the evaluation (it sleeps 1.5 s in it), then kill it.
    deadline = time.monotonic() + 10
    while not EvaluationDue.objects.filter(worker_id=wearers[1].worker_id, claim__isnull=False).exists():
        assert time.monotonic() < deadline, "the urgent evaluation never started"
        time.sleep(0.05)
    stack.worker.kill()
    presses.append(during)
    assert not Alert.objects.filter(worker_id=wearers[1].worker_id).exists()  # killed before it raised
    time.sleep(2)
    stack.worker.start()
    returned = time.monotonic()
    after = Press("after", wearers[2], time.monotonic())
    after.ack = press_by_socket(stack.server, wearers[2])
    presses.append(after)
    expect_every_sos_delivered("celery_worker_killed", presses, dashboard, returned)


def test_redis_restarted_without_persistence_with_urgent_work_queued(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    for _ in range(100):  # the first press is evaluated before the worker goes
        if Alert.objects.filter(worker_id=wearers[0].worker_id).exists():
            break
        time.sleep(0.1)
    stack.worker.kill()  # nobody consumes: the next request waits in Redis
    during = Press("during", wearers[1], time.monotonic())
    during.ack = press_by_socket(stack.server, wearers[1])
    assert during.ack["accepted"] == 1
    # The request is enqueued just after the ack (the acks go out first).
    deadline = time.monotonic() + 5
    while stack.redis.command("LLEN", "urgent") in (None, "0") and time.monotonic() < deadline:
        time.sleep(0.05)
    queued = int(stack.redis.command("LLEN", "urgent") or 0)
    assert queued >= 1, "the urgent evaluation never reached the queue"
    stack.redis.kill()  # without persistence: the queued task is gone
    stack.redis.start()
    stack.worker.start()
    returned = time.monotonic()
    presses.append(during)
    after = Press("after", wearers[2], time.monotonic())
    after.ack = press_by_socket(stack.server, wearers[2])
    presses.append(after)
    expect_every_sos_delivered(
        "redis_restarted", presses, dashboard, returned, {"urgent_tasks_queued_when_redis_went": queued}
    )


def test_redis_refusing_writes(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    stack.redis.refuse_writes(True)
    try:
        during = Press("during", wearers[1], time.monotonic())
        during.ack = press_by_socket(stack.server, wearers[1])  # still acknowledged: stored in PostgreSQL
        assert during.ack["accepted"] == 1
        presses.append(during)
        time.sleep(5)
    finally:
        stack.redis.refuse_writes(False)
    returned = time.monotonic()
    after = Press("after", wearers[2], time.monotonic())
    after.ack = press_by_socket(stack.server, wearers[2])
    presses.append(after)
    expect_every_sos_delivered(
        "redis_refusing_writes",
        presses,
        dashboard,
        returned,
        {"dashboard_close_codes": dashboard.closes, "worker_restarts_by_supervisor": stack.worker.restarts},
    )


def test_asgi_server_killed(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    stack.server.kill()
    # Pressed while the server is gone: the wearable keeps it and sends it on reconnecting.
    during = Press("during", wearers[1], time.monotonic())
    pressed_at = datetime.now(UTC)
    time.sleep(3)
    stack.server.start()
    returned = time.monotonic()
    during.ack = press_by_socket(stack.server, wearers[1], at=pressed_at)
    presses.append(during)
    after = Press("after", wearers[2], time.monotonic())
    after.ack = press_by_socket(stack.server, wearers[2])
    presses.append(after)
    expect_every_sos_delivered("asgi_server_killed", presses, dashboard, returned)


def test_http_fallback_sos_during_a_redis_outage(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    stack.redis.kill()
    during = Press("during", wearers[1], time.monotonic())
    pressed_at = datetime.now(UTC)
    status, ack = press_by_http(stack.server, wearers[1], at=pressed_at)
    assert (status, ack.get("accepted")) == (200, 1), ack  # committed, so never a 500
    status, again = press_by_http(stack.server, wearers[1], at=pressed_at)  # the device retries anyway
    assert (status, again.get("duplicates")) == (200, 1), again
    during.ack = ack
    presses.append(during)
    # A device on the socket is still acknowledged meanwhile.
    assert press_by_socket(stack.server, wearers[3])["accepted"] == 1
    presses.append(Press("during (socket)", wearers[3], during.pressed))
    time.sleep(3)
    stack.redis.start()
    returned = time.monotonic()
    after = Press("after", wearers[2], time.monotonic())
    status, after.ack = press_by_http(stack.server, wearers[2])
    assert status == 200
    presses.append(after)
    expect_every_sos_delivered("http_fallback_redis_down", presses, dashboard, returned)


def test_a_buffered_sos_11_minutes_old(stack, wearers, dashboard):
    presses = [before(stack, wearers[0])]
    pressed_at = datetime.now(UTC) - timedelta(minutes=11)
    late = Press("buffered 11 min", wearers[1], time.monotonic())
    late.ack = press_by_socket(stack.server, wearers[1], at=pressed_at)
    assert late.ack["accepted"] == 1
    presses.append(late)
    after = Press("after", wearers[2], time.monotonic())
    after.ack = press_by_socket(stack.server, wearers[2])
    presses.append(after)
    rows = expect_every_sos_delivered("buffered_sos_11_min", presses, dashboard, late.pressed)
    evidence = rows[1]["evidence"]
    assert evidence["delayed"] is True
    assert datetime.fromisoformat(evidence["happened_at"]) == pressed_at.replace(microsecond=pressed_at.microsecond)
    assert evidence["delay_seconds"] >= 660
