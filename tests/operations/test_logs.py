"""Structured logs (healthhub.logs): JSON lines with the request and device
ids in production, plain lines in the demo."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from healthhub import logs

BASE_DIR = Path(__file__).resolve().parents[2]


def format_record(formatter: logging.Formatter, message: str = "stored %d readings", *args: object) -> str:
    record = logging.LogRecord("devices.consumers", logging.WARNING, __file__, 1, message, args or (25,), None)
    logs.ContextFilter().filter(record)
    return formatter.format(record)


def test_a_json_line_names_the_request_and_the_device():
    request_token, device_token = logs.request_id.set("req-1"), logs.device.set("A-1")
    try:
        entry = json.loads(format_record(logs.JsonFormatter()))
    finally:
        logs.request_id.reset(request_token)
        logs.device.reset(device_token)
    assert entry["message"] == "stored 25 readings"
    assert (entry["level"], entry["logger"]) == ("WARNING", "devices.consumers")
    assert (entry["request_id"], entry["device"]) == ("req-1", "A-1")
    assert entry["time"].endswith("+00:00")


def test_a_json_line_leaves_out_ids_it_does_not_have_and_keeps_the_traceback():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    logs.ContextFilter().filter(record)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert "request_id" not in entry and "device" not in entry
    assert "ValueError: broken" in entry["exception"]


def test_each_request_gets_an_id_in_its_records_and_its_response():
    seen: list[str | None] = []

    def view(request):
        seen.append(logs.request_id.get())
        return HttpResponse("ok")

    middleware = logs.RequestIdMiddleware(view)
    response = middleware(RequestFactory().get("/"))
    assert seen[0] and response["X-Request-ID"] == seen[0]
    assert logs.request_id.get() is None  # not leaked to whatever runs next
    given = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="proxy-abc.1"))
    assert given["X-Request-ID"] == "proxy-abc.1"
    forged = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID='x"\n{"level":"INFO"}'))
    assert forged["X-Request-ID"] != 'x"\n{"level":"INFO"}' and len(forged["X-Request-ID"]) == 32


PROBE = "import django, logging; django.setup(); logging.getLogger('probe').warning('hello')"


def run_probe(**env: str) -> subprocess.CompletedProcess:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "healthhub.settings",
        "HEALTHHUB_DEMO": "true",  # the demo's embedded key
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60
    )


def test_plain_lines_in_the_demo_json_with_redis_or_when_asked():
    plain = run_probe().stderr.strip().splitlines()[-1]
    assert plain.endswith("WARNING probe [- -] hello")
    for env in ({"REDIS_URL": "redis://127.0.0.1:1/0"}, {"LOG_FORMAT": "json"}):
        line = run_probe(**env).stderr.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "hello"


def test_an_unknown_log_format_stops_startup():
    result = run_probe(LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain, got 'xml'" in result.stderr


@pytest.mark.parametrize("level", ["DEBUG", "WARNING"])
def test_the_level_comes_from_the_environment(level):
    config = logs.logging_config(json_lines=True, level=level)
    assert config["root"]["level"] == level
