"""Structured logs: one JSON object per line in production, plain lines in
the demo, both carrying the request id and the device of the code that logs
(a leaf helper; stdlib logging only).

The ids travel in context variables, so every record logged while serving a
request, or a device's socket, names it without being passed along:
``RequestIdMiddleware`` sets the request id (the proxy's ``X-Request-ID``
when it is a sane token, else a new one, echoed in the response);
``bind_device`` sets the device serial for the rest of a socket's task.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
device: ContextVar[str | None] = ContextVar("device", default=None)

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def bind_device(serial: str) -> None:
    """The device whose socket this task serves, for every later record."""
    device.set(serial)


class ContextFilter(logging.Filter):
    """Copies the context ids onto each record (``-`` when unset, so that
    plain format strings may name them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        record.device = device.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger,
    message, the context ids when set, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "device"):
            value = getattr(record, key, "-")
            if value and value != "-":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """The LOGGING setting: JSON lines or plain text, context ids in both."""
    formatter: dict[str, Any] = (
        {"()": "healthhub.logs.JsonFormatter"}
        if json_lines
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(device)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "healthhub.logs.ContextFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.channels.server": {"level": "WARNING"},
            "axes.apps": {"level": "WARNING"},  # its start-up banner on every command
        },
    }


class RequestIdMiddleware:
    """Gives each request an id for its log records and its response."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        given = request.headers.get("X-Request-ID", "")
        token = request_id.set(given if _SANE_ID.match(given) else uuid.uuid4().hex)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id.get()
            return response
        finally:
            request_id.reset(token)
