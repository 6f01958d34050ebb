"""Scaling out by adding processes: two ASGI servers and two Celery workers
on one Redis and one PostgreSQL, as in production. A device connected to
server A raises an alert that a clinician connected to server B sees; the
worker withdraws consent through server B and the device's socket on A is
closed. Runs where the suite has PostgreSQL and Redis (.ci/run's second pass)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from alerts.models import Alert
from devices.protocol import CLOSE_FORBIDDEN
from tests.live import BASE_DIR, DEVICES_PATH, AsgiServer, database_url

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not settings.REDIS_URL,
        reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]


def production_env() -> dict[str, str | None]:
    """healthhub.settings (Celery through Redis, the Redis channel layer) on
    the test database; the cast has no second factor."""
    return {
        # The test process's key: the sessions it makes must be valid on the servers.
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_URL": settings.REDIS_URL,
        "HEALTHHUB_REQUIRE_MFA": "false",
        "DATABASE_POOL": "false",
        "LOG_FORMAT": "plain",
        "PROMETHEUS_MULTIPROC_DIR": None,
    }


@pytest.fixture
def cluster(tmp_path):
    url = database_url(connection.settings_dict)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "healthhub.settings"}
    for name, value in production_env().items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    servers = [
        AsgiServer(
            database_url=url,
            settings_module="healthhub.settings",
            env=production_env(),
            log_path=tmp_path / f"asgi-{name}.log",
        )
        for name in ("a", "b")
    ]
    workers: list[subprocess.Popen] = []
    logs = []
    try:
        for server in servers:
            server.start(timeout=60)
        for name in ("w1", "w2"):
            logs.append(log := open(tmp_path / f"celery-{name}.log", "wb"))
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "healthhub", "worker", "-Q", "urgent,celery",
                     "--pool", "threads", "--concurrency", "2", "-n", f"{name}@%h", "--loglevel", "INFO"],
                    cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        yield servers
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        for server in servers:
            server.stop()
        for log in logs:
            log.close()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_an_alert_crosses_servers_and_a_withdrawal_closes_the_socket_on_the_other(cluster, alice, alice_device, clara):
    server_a, server_b = cluster
    _, token = alice_device
    origin = server_b.http_url
    dashboard_socket = connect(
        server_b.ws_url("/ws/alerts/"),
        additional_headers={"Cookie": f"sessionid={session_cookie(clara)}", "Origin": origin},
        open_timeout=20,
    )
    device_socket = connect(server_a.ws_url(DEVICES_PATH), additional_headers={"Authorization": f"Bearer {token}"})
    with dashboard_socket as dashboard, device_socket as device:
        assert json.loads(device.recv(timeout=10))["type"] == "welcome"
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        device.send(json.dumps({"type": "readings", "seq": 1, "sent_at": at, "readings": [
            {"metric": "sos", "value": 1, "at": at}]}))  # fmt: skip
        assert json.loads(device.recv(timeout=10))["type"] == "ack"
        # A Celery worker evaluates, and server B's clinician page hears of it through Redis.
        deadline = time.monotonic() + 60
        frame: dict = {}
        while time.monotonic() < deadline and frame.get("type") != "alert":
            frame = json.loads(dashboard.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert frame["type"] == "alert" and frame["alert"]["kind"] == "sos"
        assert frame["alert"]["worker"] == alice.pk
        assert Alert.objects.filter(worker=alice, kind="sos").count() == 1

        # Alice withdraws consent on server B's portal; her wearable is on A.
        csrf = _get_new_csrf_string()
        conn = http.client.HTTPConnection(server_b.host, server_b.port, timeout=20)
        conn.request(
            "POST",
            "/me/privacy/consent/",
            body=f"decision=withdraw&csrfmiddlewaretoken={csrf}",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"sessionid={session_cookie(alice.user)}; csrftoken={csrf}",
            },
        )
        response = conn.getresponse()
        assert response.status == 302, response.read()[:500]
        deadline = time.monotonic() + 30
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < deadline:
                device.recv(timeout=max(0.1, deadline - time.monotonic()))  # alert pushes may come first
        assert device.close_code == CLOSE_FORBIDDEN
