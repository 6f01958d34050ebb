"""Property tests of ingestion: whatever a device sends, nothing crashes, an
ack counts exactly what was newly stored, and nothing rejected is stored.

Batches are generated with their expected outcome attached (each reading is
built valid, or built to fail for one named reason), so the oracle is the
construction, not a second implementation of the protocol. Times are drawn
as offsets and placed relative to the moment the example runs, so a replayed
or shrunk example means the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from devices import protocol
from devices.models import Reading
from devices.protocol import METRICS, FrameError, Limits
from devices.services import batch_receive
from tests.devices.wsclient import communicator

SETTINGS = settings(
    deadline=None,
    database=None,  # nothing written to .hypothesis/ by the suite
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DAY = 86400
LIMITS = Limits(
    max_batch=500, max_frame_bytes=256 * 1024, future_tolerance=timedelta(minutes=5), backfill=timedelta(days=7)
)
REASONS = {
    protocol.UNKNOWN_METRIC,
    protocol.OUT_OF_RANGE,
    protocol.BAD_VALUE,
    protocol.BAD_TIMESTAMP,
    protocol.FUTURE_TIMESTAMP,
    protocol.TOO_OLD,
}
ERROR_CODES = {protocol.BAD_JSON, protocol.BAD_SCHEMA, protocol.TOO_LARGE, protocol.UNKNOWN_TYPE}

# --- generated readings, each with its expected outcome -------------------------------


@dataclass(frozen=True)
class At:
    """A time ``seconds`` from now, sent as ISO 8601 with an offset or as epoch ms."""

    seconds: int
    as_ms: bool
    offset_minutes: int

    def render(self, now: datetime) -> Any:
        at = now + timedelta(seconds=self.seconds)
        if self.as_ms:
            return int(at.timestamp()) * 1000
        return at.astimezone(timezone(timedelta(minutes=self.offset_minutes))).isoformat()


MISSING = object()


@dataclass(frozen=True)
class Spec:
    """One reading to send. ``reason`` is None for a valid one."""

    reason: str | None
    fields: dict = field(default_factory=dict)
    at: Any = MISSING  # an At, a raw value, or MISSING
    raw: Any = MISSING  # a reading that is not an object at all

    def render(self, now: datetime) -> Any:
        if self.raw is not MISSING:
            return self.raw
        reading = dict(self.fields)
        if self.at is not MISSING:
            reading["at"] = self.at.render(now) if isinstance(self.at, At) else self.at
        return reading

    def key(self, now: datetime) -> tuple[str, datetime]:
        return self.fields["metric"], now + timedelta(seconds=self.at.seconds)


offsets = st.integers(-14 * 60, 14 * 60)
ints = st.integers(-(2**63), 2**63 - 1)  # what JSON numbers a decoder takes


def times(low: int, high: int) -> st.SearchStrategy[At]:
    return st.builds(At, st.integers(low, high), st.booleans(), offsets)


# Valid times cluster around now, so that readings collide and duplicates
# (within a batch and across batches) are common.
valid_times = st.one_of(times(-5, 5), times(-(7 * DAY - 3600), 4 * 60))
metrics = st.sampled_from(sorted(METRICS))
# fields the protocol may add later are ignored, not rejected
extra_fields = st.dictionaries(st.sampled_from(["unit", "quality", "x"]), ints | st.text(max_size=5), max_size=2)


def in_range(metric: str) -> st.SearchStrategy[float | int]:
    m = METRICS[metric]  # every range in the protocol has whole-number ends
    return st.one_of(st.integers(int(m.low), int(m.high)), st.floats(m.low, m.high))


@st.composite
def valid_specs(draw) -> Spec:
    metric = draw(metrics)
    fields = {**draw(extra_fields), "metric": metric, "value": draw(in_range(metric))}
    return Spec(None, fields, draw(valid_times))


@st.composite
def invalid_specs(draw) -> Spec:
    reason = draw(st.sampled_from(sorted(REASONS)))
    metric = draw(metrics)
    m = METRICS[metric]
    value = draw(in_range(metric))
    at = draw(valid_times)
    if reason == protocol.UNKNOWN_METRIC:
        bad = draw(st.one_of(st.text(max_size=12).filter(lambda s: s not in METRICS), ints, st.none()))
        fields = {"value": value} if draw(st.booleans()) else {"metric": bad, "value": value}
        return Spec(reason, fields, at)
    if reason == protocol.OUT_OF_RANGE:
        outside = draw(
            st.one_of(
                st.floats(m.high + 0.5, 1e300),
                st.floats(-1e300, m.low - 0.5),
                st.integers(int(m.high) + 1, 2**63 - 1),
            )
        )
        return Spec(reason, {"metric": metric, "value": outside}, at)
    if reason == protocol.BAD_VALUE:
        not_a_number = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.lists(ints, max_size=2))
        kind = draw(st.sampled_from(["value", "missing", "not_an_object"]))
        if kind == "value":
            return Spec(reason, {"metric": metric, "value": draw(not_a_number)}, at)
        if kind == "missing":
            return Spec(reason, {"metric": metric}, at)
        return Spec(reason, raw=draw(st.one_of(ints, st.text(max_size=8), st.lists(ints, max_size=2))))
    if reason == protocol.BAD_TIMESTAMP:
        bad_at = draw(
            st.one_of(
                st.just(MISSING),
                st.text(alphabet="abcxyz :-", max_size=12),
                st.floats(allow_nan=False, allow_infinity=False),
                st.integers(-(2**63), -1),
                st.integers(253402300800000, 2**63 - 1),  # after the year 9999
                st.booleans(),
                st.none(),
                # no offset: local time is ambiguous
                st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(datetime.isoformat),
                # an offset that puts the instant outside what datetime can hold
                st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]),
            )
        )
        return Spec(reason, {"metric": metric, "value": value}, bad_at)
    if reason == protocol.FUTURE_TIMESTAMP:
        return Spec(reason, {"metric": metric, "value": value}, draw(times(6 * 60, 3650 * DAY)))
    return Spec(reason, {"metric": metric, "value": value}, draw(times(-50 * 365 * DAY, -(7 * DAY + 3600))))


@st.composite
def batches(draw, max_size: int = 30) -> list[Spec]:
    specs = draw(st.lists(st.one_of(valid_specs(), invalid_specs()), max_size=max_size))
    # repeat some readings inside the batch
    for index in draw(st.lists(st.integers(0, max(len(specs) - 1, 0)), max_size=5)) if specs else []:
        specs.insert(draw(st.integers(0, len(specs))), specs[index])
    return specs


def render(seq: int, specs: list[Spec], now: datetime) -> dict:
    return {"type": "readings", "seq": seq, "readings": [s.render(now) for s in specs]}


# --- the oracle ------------------------------------------------------------------------------


def rows() -> dict[tuple[str, datetime], float]:
    return {(m, at): v for m, at, v in Reading.objects.values_list("metric", "measured_at", "value")}


def check_ack(ack: dict, seq: int, specs: list[Spec], now: datetime, before: dict, after: dict) -> None:
    """What an ack for ``specs`` must say, given the rows before and after it."""
    assert ack["type"] == "ack" and ack["seq"] == seq
    assert ack["rejected"] == [{"index": i, "reason": s.reason} for i, s in enumerate(specs) if s.reason]
    valid = [s for s in specs if s.reason is None]
    # an ack counts exactly what was newly stored ...
    assert ack["accepted"] == len(after) - len(before)
    assert ack["accepted"] + ack["duplicates"] == len(valid)
    # ... which is each valid reading not stored before, first one wins ...
    expected = dict(before)
    for s in valid:
        expected.setdefault(s.key(now), float(s.fields["value"]))
    # ... and nothing else: no rejected reading is stored
    assert after == expected


def now_seconds() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- pure protocol functions -------------------------------------------------------------------

fixed_zones = st.builds(timezone, st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59)))


@settings(SETTINGS, max_examples=300)
@given(st.datetimes(timezones=fixed_zones))
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1))))
# Found by hypothesis: Python 3.11 reads an offset's fraction and drops it.
@example(datetime(2000, 1, 1, tzinfo=timezone(timedelta(microseconds=1))))
def test_an_iso_time_with_any_offset_parses_to_its_instant_or_to_none(at):
    parsed = protocol.parse_timestamp(at.isoformat())
    if parsed is not None:
        assert parsed.tzinfo is UTC and parsed == at


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


@settings(SETTINGS, max_examples=300)
@given(st.one_of(json_values, st.dictionaries(st.sampled_from(["metric", "value", "at"]), json_values)))
def test_any_json_reading_is_valid_or_rejected_with_a_protocol_reason(raw):
    result = protocol.validate_reading(0, raw, datetime.now(UTC), LIMITS)
    if isinstance(result, protocol.ValidReading):
        assert result.metric in METRICS
        assert METRICS[result.metric].low <= result.value <= METRICS[result.metric].high
    else:
        assert result["index"] == 0 and result["reason"] in REASONS


@settings(SETTINGS, max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300), json_values.map(lambda v: orjson.dumps(v))))
def test_any_frame_decodes_to_an_object_or_a_frame_error(raw):
    try:
        message = protocol.decode_frame(raw, LIMITS)
    except FrameError as exc:
        assert exc.code in ERROR_CODES and exc.detail
    else:
        assert isinstance(message, dict) and isinstance(message["type"], str)


# --- storing: the service both the consumer and the HTTP fallback call -------------------------


@pytest.mark.django_db
@settings(SETTINGS, max_examples=80)
@given(st.lists(st.tuples(batches(), st.booleans()), min_size=1, max_size=4))
def test_every_ack_counts_exactly_the_newly_stored_readings_and_nothing_rejected_is_stored(alice_device, sends):
    device, _ = alice_device
    Reading.objects.all().delete()
    now = now_seconds()
    sent: list[list[Spec]] = []
    for seq, (specs, resend) in enumerate(sends):
        if resend and sent:
            specs = sent[-1]  # at-least-once: the same batch again
        sent.append(specs)
        message = orjson.loads(orjson.dumps(render(seq, specs, now)))
        before = rows()
        ack, active = batch_receive(device_id=device.pk, worker_id=device.worker_id, message=message, limits=LIMITS)
        assert active
        check_ack(ack, seq, specs, now, before, rows())


# --- the consumer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame; ``specs`` when it is a generated batch."""

    text: str | None = None
    data: bytes | None = None
    specs: tuple[Spec, ...] | None = None


def batch_frames() -> st.SearchStrategy[Frame]:
    return batches(max_size=15).map(lambda specs: Frame(specs=tuple(specs)))


def as_message(value: Any) -> str:
    return orjson.dumps(value).decode()


def padded(size: int) -> str:
    head = '{"type": "readings", "seq": 1, "readings": [], "pad": "'
    return head + "x" * (size - len(head) - 2) + '"}'


frames = st.one_of(
    st.binary(max_size=200).map(lambda b: Frame(data=b)),
    st.text(max_size=200).map(lambda t: Frame(text=t)),
    json_values.map(lambda v: Frame(text=as_message(v))),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["readings", "hello", "telemetry", "ack"]) | st.text(max_size=8)},
        optional={
            "seq": json_values,
            "readings": st.lists(json_values, max_size=5) | json_values,
            "token": json_values,
        },
    ).map(lambda v: Frame(text=as_message(v))),
    # around the 256 KiB frame limit
    st.integers(-40, 40).map(lambda d: Frame(text=padded(256 * 1024 + d))),
    batch_frames(),
    batch_frames(),
)


@database_sync_to_async
def db_rows() -> dict:
    return rows()


@database_sync_to_async
def clear_readings() -> None:
    Reading.objects.all().delete()


async def send_frame(comm, frame: Frame, payload: str | None) -> None:
    # send_input, not send_to: send_to cannot send an empty frame
    if frame.data is not None:
        await comm.send_input({"type": "websocket.receive", "bytes": frame.data})
    else:
        await comm.send_input({"type": "websocket.receive", "text": payload})


async def answer_to(comm) -> dict:
    """The server's answer to the frame just sent, past any alert pushed
    meanwhile (an SOS reading raises one). A crash in the consumer surfaces
    here as its exception."""
    while True:
        output = await comm.receive_output(timeout=5)
        if output["type"] != "websocket.send" or orjson.loads(output["text"])["type"] != "alert":
            return output


async def converse(token: str, script: list[Frame]) -> None:
    await clear_readings()
    now = now_seconds()
    comm = communicator(token)
    await comm.connect()
    try:
        assert (await comm.receive_json_from())["type"] == "welcome"
        for seq, frame in enumerate(script):
            payload = as_message(render(seq, list(frame.specs), now)) if frame.specs is not None else frame.text
            before = await db_rows()
            await send_frame(comm, frame, payload)
            output = await answer_to(comm)
            assert output["type"] == "websocket.send", output  # never closed by a bad frame
            answer = orjson.loads(output["text"])
            after = await db_rows()
            if frame.specs is not None:
                check_ack(answer, seq, list(frame.specs), now, before, after)
            elif answer["type"] == "error":
                assert answer["code"] in ERROR_CODES and answer["detail"]
                assert after == before  # a frame that is not a batch stores nothing
            else:
                # arbitrary JSON that happens to be a batch
                assert answer["type"] == "ack"
                assert answer["accepted"] == len(after) - len(before)
                assert {r["reason"] for r in answer["rejected"]} <= REASONS
        # and the connection still works
        last = len(script)
        good = [Spec(None, {"metric": "heart_rate", "value": 70}, At(-3600, False, 0))]
        before = await db_rows()
        await comm.send_to(text_data=as_message(render(last, good, now)))
        output = await answer_to(comm)
        check_ack(orjson.loads(output["text"]), last, good, now, before, await db_rows())
    finally:
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@settings(SETTINGS, max_examples=60)
@given(st.lists(frames, min_size=1, max_size=8))
def test_the_consumer_survives_any_frames_and_acks_only_what_it_stored(alice_device, script):
    _, token = alice_device
    async_to_sync(converse)(token, script)
