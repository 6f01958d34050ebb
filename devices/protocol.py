"""The wearable protocol, version 1 (docs/device-protocol.md), as pure functions.

Nothing here touches the database or the network, so the consumer and the
HTTP fallback share one implementation of every rule and both are tested
through it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
from django.utils.translation import gettext_noop


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    low: float
    high: float
    loinc: str | None = None
    event: bool = False


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("heart_rate", "beats/min", 20, 250, "8867-4"),
        Metric("spo2", "%", 50, 100, "59408-5"),
        Metric("skin_temp", "°C", 20, 45, "39106-0"),
        Metric("core_temp", "°C", 30, 45, "8329-5"),
        Metric("resp_rate", "breaths/min", 3, 70, "9279-1"),
        # LOINC has no RMSSD code (80404-7 is the SDNN one): exported under
        # the programme's own code system only (protocol change 2026-11-28).
        Metric("hrv_rmssd", "ms", 0, 500),
        Metric("hrv_sdnn", "ms", 0, 500, "80404-7"),
        Metric("steps", "count", 0, 1000, "55423-8"),
        Metric("ambient_temp", "°C", -40, 60),
        Metric("ambient_humidity", "%", 0, 100),
        Metric("fall", "event", 1, 1, event=True),
        Metric("sos", "event", 1, 1, event=True),
        Metric("battery", "%", 0, 100),
    ]
}

# Rejection reasons and error codes, exactly as the protocol names them.
UNKNOWN_METRIC = "unknown_metric"
OUT_OF_RANGE = "out_of_range"
BAD_VALUE = "bad_value"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
TOO_OLD = "too_old"

BAD_JSON = "bad_json"
BAD_SCHEMA = "bad_schema"
TOO_LARGE = "too_large"
RATE_LIMITED = "rate_limited"
UNKNOWN_TYPE = "unknown_type"

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_TOO_MANY_FRAMES = 4429

# Epoch milliseconds outside this span are not timestamps a wearable sends
# (and would overflow datetime); they are bad_timestamp, not too_old.
_MIN_EPOCH_MS = 0
_MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


class FrameError(Exception):
    """A frame that cannot be a batch: answered with an ``error`` frame."""

    def __init__(self, code: str, detail: str, seq: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.seq = seq

    def as_message(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "detail": self.detail, "seq": self.seq}


class ValidReading(NamedTuple):
    # A tuple: ingestion makes one per reading, and a frozen dataclass costs
    # three times as much to build.
    index: int
    metric: str
    value: float
    at: datetime  # aware, UTC


@dataclass
class Batch:
    seq: int
    valid: list[ValidReading]
    rejected: list[dict[str, Any]]
    # Where the wearer is (a gateway or beacon id), if the device says: an
    # optional extension of version 1; a malformed zone is ignored, never
    # a reason to refuse the readings (they may hold an SOS).
    zone: str | None = None


ZONE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def parse_zone(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and ZONE_PATTERN.fullmatch(raw) else None


@dataclass(frozen=True)
class Limits:
    max_batch: int
    max_frame_bytes: int
    future_tolerance: timedelta
    backfill: timedelta

    @classmethod
    def from_settings(cls) -> Limits:
        from django.conf import settings

        conf = settings.DEVICE_PROTOCOL
        return cls(
            max_batch=conf["MAX_BATCH"],
            max_frame_bytes=conf["MAX_FRAME_BYTES"],
            future_tolerance=timedelta(seconds=conf["FUTURE_TOLERANCE_S"]),
            backfill=timedelta(days=conf["BACKFILL_DAYS"]),
        )


def decode_frame(raw: str | bytes, limits: Limits) -> dict[str, Any]:
    """Size-check and parse one frame into a JSON object, or raise FrameError."""
    if isinstance(raw, str):
        # At most 4 bytes per character in UTF-8: most frames need no encoding to tell.
        size = len(raw) if len(raw) * 4 <= limits.max_frame_bytes else len(raw.encode("utf-8"))
    else:
        size = len(raw)
    if size > limits.max_frame_bytes:
        raise FrameError(TOO_LARGE, f"frame is {size} bytes; the limit is {limits.max_frame_bytes}")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(BAD_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError(BAD_SCHEMA, "a frame must be a JSON object")
    if not isinstance(message.get("type"), str):
        raise FrameError(BAD_SCHEMA, "a frame must have a string 'type'")
    return message


def _seq_of(message: dict[str, Any]) -> int | None:
    seq = message.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool):
        return seq
    return None


_ISO_OFFSET = re.compile(r"(Z|[+-]\d\d(:?\d\d)?)$", re.IGNORECASE)
# Endings that are valid ISO 8601 offsets of UTC (what wearables send).
_UTC_SUFFIXES = ("Z", "+00:00")


def parse_timestamp(raw: Any) -> datetime | None:
    """ISO 8601 with an offset, or integer epoch milliseconds; None if neither."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        if not _MIN_EPOCH_MS <= raw <= _MAX_EPOCH_MS:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=raw)
    if isinstance(raw, str):
        if len(raw) > 64:
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return None
        if parsed.tzinfo is UTC and raw.endswith(_UTC_SUFFIXES):
            return parsed  # the common case, for a third of the cost of the checks below
        if parsed.utcoffset() is None:
            return None  # the protocol requires an offset: local time is ambiguous
        if not _ISO_OFFSET.search(raw, max(0, len(raw) - 6)):  # an offset is at most 6 characters
            # ISO 8601 offsets are Z, ±hh, ±hhmm or ±hh:mm; Python also reads
            # seconds and fractions there, and drops the fractions (3.11).
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            # e.g. 0001-01-01T00:00:00+01:00, which is before datetime.min in UTC
            return None
    return None


def validate_reading(index: int, raw: Any, now: datetime, limits: Limits) -> ValidReading | dict[str, Any]:
    """One reading: a ValidReading, or a rejection ``{"index", "reason"}``."""
    return _validate(index, raw, now - limits.backfill, now + limits.future_tolerance)


def _validate(index: int, raw: Any, oldest: datetime, newest: datetime) -> ValidReading | dict[str, Any]:
    reason = _reading_error(raw)
    if reason is None:
        at = parse_timestamp(raw.get("at"))
        if at is None:
            reason = BAD_TIMESTAMP
        elif at > newest:
            reason = FUTURE_TIMESTAMP
        elif at < oldest:
            reason = TOO_OLD
        else:
            return ValidReading(index, raw["metric"], float(raw["value"]), at)
    return {"index": index, "reason": reason}


def _reading_error(raw: Any) -> str | None:
    """What is wrong with a reading's metric and value, if anything."""
    if not isinstance(raw, dict):
        return BAD_VALUE
    name = raw.get("metric")
    metric = METRICS.get(name) if isinstance(name, str) else None
    if metric is None:
        return UNKNOWN_METRIC
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return BAD_VALUE
    value = float(value)
    if not math.isfinite(value):
        return BAD_VALUE
    if not metric.low <= value <= metric.high:
        return OUT_OF_RANGE
    return None


def parse_batch(message: dict[str, Any], now: datetime, limits: Limits) -> Batch:
    """Validate a ``readings`` message reading by reading.

    Raises FrameError when the frame as a whole is not a batch; otherwise
    every reading is either valid or listed in ``rejected`` with its reason,
    so one bad reading never sinks the rest.
    """
    seq = _seq_of(message)
    if seq is None:
        raise FrameError(BAD_SCHEMA, "'seq' must be an integer")
    readings = message.get("readings")
    if not isinstance(readings, list):
        raise FrameError(BAD_SCHEMA, "'readings' must be a list", seq)
    if len(readings) > limits.max_batch:
        raise FrameError(TOO_LARGE, f"{len(readings)} readings; at most {limits.max_batch} per batch", seq)
    valid: list[ValidReading] = []
    rejected: list[dict[str, Any]] = []
    oldest, newest = now - limits.backfill, now + limits.future_tolerance
    for index, raw in enumerate(readings):
        result = _validate(index, raw, oldest, newest)
        if isinstance(result, ValidReading):
            valid.append(result)
        else:
            rejected.append(result)
    return Batch(seq=seq, valid=valid, rejected=rejected, zone=parse_zone(message.get("zone")))


def frame_seq(message: dict[str, Any]) -> int | None:
    """The batch's seq, for error frames about it (null when there is none)."""
    return _seq_of(message)


def ack_message(seq: int, accepted: int, duplicates: int, rejected: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "ack", "seq": seq, "accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def welcome_message(serial: str, now: datetime, limits: Limits) -> dict[str, Any]:
    return {"type": "welcome", "device": serial, "server_time": now.isoformat(), "max_batch": limits.max_batch}


# What the wearable tells its wearer to do, as a closed set of codes the
# device shows in its own words (protocol change 2026-11-28). A wearable is a
# device someone else may hold: an alert frame carries no free text, no
# diagnosis and no health figure.
ACTIONS = ("help_is_coming", "seek_help", "rest_in_shade", "stop_and_rest", "take_a_break", "check_wearable")

# The action for an alert's kind; severity can raise it to seek_help.
_ACTION_OF_KIND = {
    "sos": "help_is_coming",
    "fall": "help_is_coming",
    "heat_strain": "rest_in_shade",
    "hypoxemia": "stop_and_rest",
    "early_warning": "stop_and_rest",
    "possible_illness": "seek_help",
    "fever": "seek_help",
    "rest_overdue": "take_a_break",
    "off_body": "check_wearable",
    "signal_lost": "check_wearable",
    "low_battery": "check_wearable",
}

# The text older devices that still read ``message`` get until the field is
# removed (docs/device-protocol.md, Changes): the action's fixed phrase, never
# the alert's own message. English here; the server sends the site's language.
LEGACY_MESSAGE = {
    "help_is_coming": gettext_noop("Help is on the way. Stay where you are."),
    "seek_help": gettext_noop("Please go to the health room."),
    "rest_in_shade": gettext_noop("Stop work and rest in the shade. Drink water."),
    "stop_and_rest": gettext_noop("Stop work and rest. Tell your supervisor."),
    "take_a_break": gettext_noop("Time for a rest break."),
    "check_wearable": gettext_noop("Check your wearable."),
}


def alert_action(kind: str, severity: str) -> str:
    """The action code for an alert of ``kind`` and ``severity``: the kind's
    own, or ``seek_help`` for a critical alert whose own action is milder."""
    action = _ACTION_OF_KIND.get(kind, "seek_help")
    if severity == "critical" and action not in ("help_is_coming", "seek_help"):
        return "seek_help"
    return action


def alert_message(alert_id: str, kind: str, severity: str, action: str, legacy_message: str) -> dict[str, Any]:
    """The alert frame: kind code, severity, alert id and action code, and
    (for devices built before 2026-11-28) the action's fixed phrase as
    ``message``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return {
        "type": "alert",
        "id": alert_id,
        "kind": kind,
        "severity": severity,
        "action": action,
        "message": legacy_message,
    }


def encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


class TokenBucket:
    """Per-device frame rate limit: ``rate`` frames per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
