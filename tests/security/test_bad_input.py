"""Bad input is a 4xx naming the field, or an error frame on a socket; never
a server error or a dropped connection. One test per server error found in
the security review (issue 8), plus the ones found grepping for hand-made
parsing. Each failed on the code before the fix.

``²`` is a superscript two: ``"²".isdigit()`` is true and ``int("²")``
raises; twenty digits overflow SQLite's 64-bit integers."""

from __future__ import annotations

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations.models import Message
from tests.conftest import api_as
from tests.devices.wsclient import batch, connected, hr_series
from tests.sockets import browser_socket as signed_in_socket

SUPERSCRIPT = "\u00b2"
TWENTY_DIGITS = "9" * 20


def api(user):
    client = api_as(user)
    client.raise_request_exception = False  # a server error is a 500 here, not a raised exception
    return client


@pytest.fixture
def page(client):
    client.raise_request_exception = False
    return client


def assert_names_field(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


# --- HTTP query strings ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["from", "to"])
def test_readings_time_with_superscript_digit_is_400(alice, clara, field):
    response = api(clara).get(f"/api/v1/workers/{alice.pk}/readings/", {field: SUPERSCRIPT})
    assert_names_field(response, field)


@pytest.mark.django_db
def test_readings_reason_with_nul_is_400(alice, clara):
    # On PostgreSQL the NUL reached the access log's INSERT: a 500.
    response = api(clara).get(f"/api/v1/workers/{alice.pk}/readings/?reason=a%00b")
    assert_names_field(response, "reason")


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["worker", "site", "department"])
def test_alert_filter_with_superscript_digit_is_400(clara, field):
    assert_names_field(api(clara).get("/api/v1/alerts/", {field: SUPERSCRIPT}), field)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["worker", "site", "department"])
def test_alert_filter_of_twenty_digits_is_400_not_an_overflow(clara, field):
    assert_names_field(api(clara).get("/api/v1/alerts/", {field: TWENTY_DIGITS}), field)


@pytest.mark.django_db
def test_alert_filters_still_filter(alice, bob, clara):
    for worker in (alice, bob):
        alert_apply(
            worker_id=worker.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS"), now=timezone.now()
        )
    response = api(clara).get("/api/v1/alerts/", {"worker": alice.pk, "kind": "sos", "kind_unknown": "x"})
    assert response.status_code == 200
    assert [a["worker"] for a in response.json()] == [alice.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("after", [SUPERSCRIPT, TWENTY_DIGITS, "-1"])
def test_messages_after_that_is_not_an_id_is_400(alice, requested, after):
    response = api(alice.user).get(f"/api/v1/consultations/{requested.pk}/messages/", {"after": after})
    assert_names_field(response, "after")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["insights:overview", "insights:export"])
@pytest.mark.parametrize("query", [{"site": SUPERSCRIPT}, {"site": TWENTY_DIGITS}, {"weeks": SUPERSCRIPT}])
def test_insights_query_that_does_not_parse_is_400(page, hana, alice, name, query):
    page.force_login(hana)
    url = reverse(name, args=["fever"]) if name == "insights:export" else reverse(name)
    response = page.get(url, query)
    assert response.status_code == 400
    assert next(iter(query)) in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["portal:export-json", "portal:export-fhir"])
@pytest.mark.parametrize(
    "query",
    [
        {"start": "9999-12-30", "end": "9999-12-31"},  # overflowed after the 200 header was sent
        {"start": "0001-01-01", "end": "0001-01-02"},
        {"end": "0001-01-01"},
    ],
)
def test_export_period_out_of_bounds_is_400_before_any_header(page, alice, name, query):
    page.force_login(alice.user)
    response = page.get(reverse(name), query)
    assert response.status_code == 400
    assert not getattr(response, "streaming", False)
    assert "Content-Disposition" not in response


@pytest.mark.django_db
def test_data_page_with_out_of_bounds_period_shows_the_form_error(page, alice):
    page.force_login(alice.user)
    response = page.get(reverse("portal:data"), {"end": "0001-01-01"})
    assert response.status_code == 200
    assert response.context["form"].errors


# --- Sockets ------------------------------------------------------------------


def browser_socket(user, path: str) -> WebsocketCommunicator:
    # With a real session: browser sockets are bound to theirs (accounts.sockets).
    return signed_in_socket(path, user)


async def next_of_type(comm: WebsocketCommunicator, kind: str) -> dict:
    while True:
        frame = await comm.receive_json_from(timeout=3)
        if frame["type"] == kind:
            return frame


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame, code",
    [
        ({"type": "message", "body": "a\u0000b", "ref": "r1"}, "bad_message"),  # crashed the consumer on PostgreSQL
        ({"type": "message", "body": "hello", "ref": "a\u0000b"}, "bad_message"),
        ({"type": "read", "up_to": 2**64 - 1}, "bad_mark"),
        ({"type": "delivered", "up_to": 0}, "bad_mark"),
    ],
)
async def test_chat_frame_with_bad_value_is_an_error_frame_and_the_socket_stays(active, alice, frame, code):
    comm = browser_socket(alice.user, f"/ws/consultations/{active.pk}/")
    assert (await comm.connect())[0]
    await comm.send_to(text_data=orjson.dumps(frame).decode())
    error = await next_of_type(comm, "error")
    assert error["code"] == code
    await comm.send_json_to({"type": "message", "body": "still here", "ref": "r2"})
    assert (await next_of_type(comm, "message"))["message"]["body"] == "still here"
    assert await database_sync_to_async(list)(Message.objects.values_list("body", flat=True)) == ["still here"]
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("text", ['{"type": "ack"}', "not json", "\u0000"])
async def test_alert_stream_answers_any_frame_with_an_error_and_stays_open(alice, text):
    comm = browser_socket(alice.user, "/ws/alerts/")
    assert (await comm.connect())[0]
    await comm.send_to(text_data=text)
    assert (await comm.receive_json_from(timeout=3))["code"] == "one_way"
    await comm.send_to(text_data=text)
    assert (await comm.receive_json_from(timeout=3))["code"] == "one_way"
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame",
    [
        {"type": "readings", "seq": 2**64 - 1, "readings": [{"metric": "heart_rate\u0000", "value": 70, "at": 1}]},
        {"type": "readings", "seq": 1, "readings": [{"metric": "heart_rate", "value": 70, "at": "2026\u0000"}]},
        {"type": "readings", "seq": 1, "readings": [{"metric": "heart_rate", "value": 1e308, "at": 2**63}]},
        {"type": "hello", "token": "a\u0000b"},
        {"type": "a\u0000b", "seq": 1},
    ],
)
async def test_device_frame_with_bad_values_is_answered_and_the_socket_stays(alice_device, frame):
    comm = await connected(alice_device[1])
    await comm.send_to(text_data=orjson.dumps(frame).decode())
    answer = await comm.receive_json_from(timeout=5)
    assert answer["type"] in {"ack", "error"}
    if answer["type"] == "ack":
        assert answer["accepted"] == 0 and len(answer["rejected"]) == 1
    await comm.send_to(text_data=orjson.dumps(batch(7, hr_series(1))).decode())
    ack = await comm.receive_json_from(timeout=5)
    assert ack["type"] == "ack" and ack["accepted"] == 1
    await comm.disconnect()
