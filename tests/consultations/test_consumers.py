"""The consultation chat socket: who is let in, messages and marks, notes
to clinicians only, typing, and video-call signalling relayed to the other
side only and never stored; and the live consultation list."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from consultations import services
from consultations.models import Message, Note
from tests.consultations.conftest import NOTE_TEXT
from tests.factories import staff
from tests.sockets import browser_socket
from workers.models import AccessLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def socket(user, path: str, origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    return browser_socket(path, user, origin=origin)


async def joined(user, consultation) -> WebsocketCommunicator:
    comm = socket(user, f"/ws/consultations/{consultation.pk}/")
    connected, _ = await comm.connect()
    assert connected
    return comm


async def receive_type(comm: WebsocketCommunicator, kind: str, wait: float = 3) -> dict:
    """The next frame of ``kind``, skipping others."""
    while True:
        frame = await comm.receive_json_from(timeout=wait)
        if frame["type"] == kind:
            return frame


@pytest.fixture
def cast(cast):
    return {**cast, "anonymous": None}


@pytest.mark.parametrize("who", ["bob", "charlie", "carl", "hana", "adam", "anonymous"])
async def test_everyone_else_is_refused_before_joining(active, cast, who):
    comm = socket(cast[who], f"/ws/consultations/{active.pk}/")
    connected, code = await comm.connect()
    assert not connected and code == 4403
    await comm.disconnect()
    assert not await database_sync_to_async(AccessLog.objects.exists)()


async def test_an_unknown_consultation_is_refused(clara, db):
    comm = socket(clara, "/ws/consultations/999999/")
    connected, code = await comm.connect()
    assert not connected and code == 4403
    await comm.disconnect()


async def test_a_foreign_origin_is_refused(active, alice):
    comm = socket(alice.user, f"/ws/consultations/{active.pk}/", origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()


async def test_a_clinicians_connection_is_logged(active, alice, clara):
    comm = await joined(clara, active)
    await comm.disconnect()
    assert await database_sync_to_async(
        AccessLog.objects.filter(accessor=clara, worker=alice, what="consultation chat").exists
    )()


async def test_messages_are_stored_and_reach_both_sides_with_marks(active, alice, clara):
    worker, clinician = await joined(alice.user, active), await joined(clara, active)
    await worker.send_json_to({"type": "message", "body": "I feel dizzy", "ref": "w-1"})
    at_clinician = await receive_type(clinician, "message")
    echo = await receive_type(worker, "message")
    assert at_clinician["message"]["body"] == "I feel dizzy" and at_clinician["message"]["from"] == "worker"
    assert echo["message"]["ref"] == "w-1" and echo["message"]["id"] == at_clinician["message"]["id"]
    message_id = echo["message"]["id"]

    await clinician.send_json_to({"type": "delivered", "up_to": message_id})
    marks = await receive_type(worker, "marks")
    assert marks["marks"][0]["id"] == message_id and marks["marks"][0]["read_at"] is None
    await clinician.send_json_to({"type": "read", "up_to": message_id})
    marks = await receive_type(worker, "marks")
    assert marks["marks"][0]["read_at"] is not None

    stored = await database_sync_to_async(Message.objects.get)()
    assert stored.body == "I feel dizzy" and stored.read_at is not None and stored.delivered_at is not None
    await worker.disconnect()
    await clinician.disconnect()


async def test_a_resent_message_is_stored_once_and_answered_to_its_sender(active, alice):
    worker = await joined(alice.user, active)
    await worker.send_json_to({"type": "message", "body": "hi", "ref": "same"})
    first = await receive_type(worker, "message")
    await worker.send_json_to({"type": "message", "body": "hi", "ref": "same"})
    second = await receive_type(worker, "message")
    assert first["message"]["id"] == second["message"]["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    await worker.disconnect()


async def test_notes_reach_clinicians_and_never_the_worker(active, alice, clara):
    worker, clinician = await joined(alice.user, active), await joined(clara, active)
    await database_sync_to_async(services.note_add)(consultation_id=active.pk, author=clara, body=NOTE_TEXT)
    note = await receive_type(clinician, "note")
    assert note["note"]["body"] == NOTE_TEXT
    # The worker's connection hears nothing at all of it.
    assert await worker.receive_nothing(timeout=0.3)
    # And a recommendation, which is for her, does arrive.
    await database_sync_to_async(services.recommendation_add)(consultation_id=active.pk, author=clara, body="Rest")
    frame = await receive_type(worker, "recommendation")
    assert frame["recommendation"]["body"] == "Rest"
    assert NOTE_TEXT not in str(frame)
    await worker.disconnect()
    await clinician.disconnect()


async def test_the_socket_cannot_be_used_to_write_notes(active, alice):
    worker = await joined(alice.user, active)
    await worker.send_json_to({"type": "note", "body": "sneaky"})
    error = await receive_type(worker, "error")
    assert error["code"] == "bad_type"
    assert not await database_sync_to_async(Note.objects.exists)()
    await worker.disconnect()


async def test_status_changes_reach_the_page(requested, alice, clara):
    worker = await joined(alice.user, requested)
    await database_sync_to_async(services.consultation_take)(consultation_id=requested.pk, clinician=clara)
    frame = await receive_type(worker, "consultation")
    assert frame["change"] == "taken" and frame["consultation"]["status"] == "active"
    await worker.disconnect()


async def test_messages_in_a_closed_consultation_are_refused(active, alice, clara):
    await database_sync_to_async(services.consultation_close)(
        consultation_id=active.pk, clinician=clara, outcome="fit_for_work"
    )
    worker = await joined(alice.user, active)
    await worker.send_json_to({"type": "message", "body": "late", "ref": "x"})
    error = await receive_type(worker, "error")
    assert error["code"] == "refused" and error["ref"] == "x"
    await worker.send_json_to({"type": "offer", "sdp": {"type": "offer", "sdp": "v=0"}})
    assert (await receive_type(worker, "error"))["code"] == "refused"
    assert not await database_sync_to_async(Message.objects.exists)()
    await worker.disconnect()


async def test_bad_frames_get_an_error_and_keep_the_connection(active, alice):
    worker = await joined(alice.user, active)
    await worker.send_to(text_data="not json")
    assert (await receive_type(worker, "error"))["code"] == "bad_json"
    await worker.send_json_to({"type": "message", "body": 42})
    assert (await receive_type(worker, "error"))["code"] == "bad_message"
    await worker.send_json_to({"type": "read", "up_to": "all"})
    assert (await receive_type(worker, "error"))["code"] == "bad_mark"
    await worker.send_to(text_data="x" * (64 * 1024 + 1))
    assert (await receive_type(worker, "error"))["code"] == "bad_frame"
    await worker.send_json_to({"type": "message", "body": "still here"})
    assert (await receive_type(worker, "message"))["message"]["body"] == "still here"
    await worker.disconnect()


async def test_typing_is_shown_to_the_other_side_only(active, alice, clara):
    worker, clinician = await joined(alice.user, active), await joined(clara, active)
    await worker.send_json_to({"type": "typing"})
    assert (await receive_type(clinician, "typing"))["from"] == "worker"
    assert await worker.receive_nothing(timeout=0.2)
    await worker.disconnect()
    await clinician.disconnect()


async def test_video_call_signalling_is_relayed_to_the_other_side_and_not_stored(active, alice, clara):
    worker, clinician = await joined(alice.user, active), await joined(clara, active)
    offer = {"type": "offer", "sdp": "v=0 offer"}
    await clinician.send_json_to({"type": "offer", "sdp": offer})
    assert await worker.receive_json_from(timeout=3) == {"type": "offer", "sdp": offer}
    assert await clinician.receive_nothing(timeout=0.2)  # not echoed to the caller
    await clinician.send_json_to({"type": "ice", "candidate": {"candidate": "c1", "sdpMid": "0"}})
    assert await worker.receive_json_from(timeout=3) == {"type": "ice", "candidate": {"candidate": "c1", "sdpMid": "0"}}
    answer = {"type": "answer", "sdp": "v=0 answer"}
    await worker.send_json_to({"type": "answer", "sdp": answer})
    assert await clinician.receive_json_from(timeout=3) == {"type": "answer", "sdp": answer}
    await worker.send_json_to({"type": "ice", "candidate": {"candidate": "c2"}})
    assert await clinician.receive_json_from(timeout=3) == {"type": "ice", "candidate": {"candidate": "c2"}}
    await worker.send_json_to({"type": "hangup"})
    assert await clinician.receive_json_from(timeout=3) == {"type": "hangup"}
    assert not await database_sync_to_async(Message.objects.exists)()
    await worker.disconnect()
    await clinician.disconnect()


async def test_a_workers_call_rings_every_clinician_and_the_first_answer_wins(active, alice, clara, site_a):
    clio = await database_sync_to_async(staff)("clio", "clinician", site_a)
    worker = await joined(alice.user, active)
    first, second = await joined(clara, active), await joined(clio, active)
    await worker.send_json_to({"type": "offer", "sdp": "offer"})
    assert (await first.receive_json_from(timeout=3))["type"] == "offer"
    assert (await second.receive_json_from(timeout=3))["type"] == "offer"
    await first.send_json_to({"type": "answer", "sdp": "answer-1"})
    assert await worker.receive_json_from(timeout=3) == {"type": "answer", "sdp": "answer-1"}
    await second.send_json_to({"type": "answer", "sdp": "answer-2"})
    # The late answer is not passed on; its sender is told the call is taken.
    assert await second.receive_json_from(timeout=3) == {"type": "hangup"}
    assert await worker.receive_nothing(timeout=0.2)
    # The rest of the call goes between the worker and the first clinician.
    await worker.send_json_to({"type": "ice", "candidate": "c"})
    assert await first.receive_json_from(timeout=3) == {"type": "ice", "candidate": "c"}
    assert await second.receive_nothing(timeout=0.2)
    await worker.disconnect()
    assert await first.receive_json_from(timeout=3) == {"type": "hangup"}  # the caller left
    await first.disconnect()
    await second.disconnect()


async def test_the_list_stream_tells_the_sites_clinicians_of_new_requests(alice, clara, carl, hana):
    clinician = socket(clara, "/ws/consultations/")
    other_site = socket(carl, "/ws/consultations/")
    assert (await clinician.connect())[0] and (await other_site.connect())[0]
    hr = socket(hana, "/ws/consultations/")
    connected, code = await hr.connect()
    assert not connected and code == 4403
    await hr.disconnect()
    consultation = await database_sync_to_async(services.consultation_request)(
        worker=alice, reason="Headache", urgency="soon"
    )
    frame = await clinician.receive_json_from(timeout=3)
    assert frame["type"] == "consultation" and frame["consultation"]["id"] == consultation.pk
    assert frame["change"] == "requested"
    assert await other_site.receive_nothing(timeout=0.2)
    await clinician.disconnect()
    await other_site.disconnect()


async def test_the_list_stream_tells_the_worker_of_her_own_only(alice, bob, clara):
    worker = socket(alice.user, "/ws/consultations/")
    assert (await worker.connect())[0]
    await database_sync_to_async(services.consultation_request)(worker=bob, reason="Bob's", urgency="soon")
    assert await worker.receive_nothing(timeout=0.2)
    mine = await database_sync_to_async(services.consultation_request)(worker=alice, reason="Mine", urgency="soon")
    await database_sync_to_async(services.consultation_take)(consultation_id=mine.pk, clinician=clara)
    assert (await worker.receive_json_from(timeout=3))["change"] == "requested"
    frame = await worker.receive_json_from(timeout=3)
    assert frame["change"] == "taken" and frame["consultation"]["id"] == mine.pk
    await worker.disconnect()
