"""Consultation sockets for browsers.

``ws/consultations/<id>/``: the chat of one consultation, for its worker and
the clinicians of the worker's site (anyone else is refused with 4403 before
joining any group). Messages and read marks go through the services, which
store them and tell the consultation's group. The worker's connection joins
the consultation's group and its worker group; a clinician's joins the
consultation's group and its clinicians' group, where the notes go, so a
worker's connection never receives a note.

The same connection carries the WebRTC signalling of a video call (offer,
answer, ice, hangup): relayed to the other side only, never stored. An offer
goes to every connection of the other side; the first to answer becomes the
caller's peer, and the rest of the call goes between those two channels.

``ws/consultations/``: live updates of the consultation lists (a clinician's
sites, a worker's own).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from channels.db import database_sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError
from django.http import Http404

from accounts.languages import scope_requested_language
from accounts.sockets import SessionBoundConsumer
from accounts.streams import CLOSE_FORBIDDEN, RoleStreamConsumer
from consultations import services
from consultations.models import Consultation, ConsultationStatus
from consultations.payloads import message_payload
from consultations.selectors import Side, consultation_for, consultation_side_now, side_of
from consultations.serializers import MarkFrame, MessageFrame
from healthhub.layers import LAYER_ERRORS
from healthhub.live import (
    consultation_clinicians_group,
    consultation_group,
    consultation_worker_group,
    site_consultations_group,
    worker_consultations_group,
)
from workers.models import AccessOrigin

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024  # a session description is a few kilobytes
TYPING_INTERVAL_S = 1.0
SIGNALS = {"offer": "sdp", "answer": "sdp", "ice": "candidate", "hangup": None}
# Frames a person's action sends (a delivery mark is the page's own): they
# keep the session from going idle (accounts.sockets.note_activity).
PERSON_ACTIONS = {"message", "read", "typing", *SIGNALS}


@database_sync_to_async
def _admit(user, consultation_id: int) -> Side | None:
    """The side ``user`` is on, with the access logged; None if they may not
    see the consultation (workers.selectors.workers_health_visible_to)."""
    try:
        consultation = consultation_for(user, consultation_id, what="consultation chat")
    except Http404:
        return None
    return side_of(user, consultation)


@database_sync_to_async
def _is_open(consultation_id: int) -> bool:
    return Consultation.objects.filter(pk=consultation_id).exclude(status=ConsultationStatus.CLOSED).exists()


def _dumps(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()


class ConsultationConsumer(SessionBoundConsumer):
    """Bound to its session (accounts.sockets): every frame from the browser
    is handled as the user re-checked now, and every event is sent only
    after the same check."""

    consultation_id: int
    side: Side | None = None
    groups_joined: list[str]
    rtc_peer: str | None = None
    last_typing: float = 0.0

    async def connect(self) -> None:
        self.groups_joined = []
        try:
            user = await self.bind_session()
        except LAYER_ERRORS:
            await self.refuse_for_outage()  # Redis is away: 1013, the page retries
            return
        if user is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.consultation_id = int(self.scope["url_route"]["kwargs"]["consultation_id"])
        self.side = await _admit(user, self.consultation_id)
        if self.side is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        side_group = (
            consultation_clinicians_group(self.consultation_id)
            if self.side is Side.CLINICIAN
            else consultation_worker_group(self.consultation_id)
        )
        self.groups_joined = [consultation_group(self.consultation_id), side_group]
        try:
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
        except LAYER_ERRORS:
            await self.refuse_for_outage()
            return
        await self.accept()
        self.watch_session()

    def still_allowed(self, user: AbstractBaseUser) -> bool:
        # Still on the same side of this consultation: a clinician taken off
        # the worker's site, or a worker moved away from them, is out.
        return consultation_side_now(user, self.consultation_id) is self.side

    async def disconnect(self, code: int) -> None:
        await self.unbind_session()
        if self.rtc_peer is not None:
            await self._signal_to(self.rtc_peer, "hangup", None)
        await self.leave_groups(self.groups_joined)

    # --- from the browser -------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME:
            await self._error("bad_frame", "text frames of at most 64 KiB")
            return
        try:
            frame = orjson.loads(text_data)
        except orjson.JSONDecodeError:
            await self._error("bad_json", "not JSON")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind in PERSON_ACTIONS:
            await self.note_activity()
        try:
            await self._dispatch_frame(kind, frame)
        except DataError:
            # A value the validation let through and the database refused:
            # this frame fails, the connection stays.
            log.warning("consultation %s: a frame's value was refused by the database", self.consultation_id)
            await self._error("bad_frame", "a value in this frame cannot be stored")

    async def _dispatch_frame(self, kind: object, frame: Any) -> None:
        if kind == "message":
            await self._message(frame)
        elif kind in ("delivered", "read"):
            await self._mark(kind, frame)
        elif kind == "typing":
            now = time.monotonic()
            if now - self.last_typing < TYPING_INTERVAL_S:
                return  # a typing indicator needs no more than this
            self.last_typing = now
            await self.channel_layer.group_send(
                consultation_group(self.consultation_id),
                {"type": "chat.typing", "from": str(self.side), "sender_channel": self.channel_name},
            )
        elif kind in SIGNALS:
            await self._signal(kind, frame)
        else:
            await self._error("bad_type", "type must be message, delivered, read, typing, offer, answer, ice or hangup")

    async def _message(self, frame: dict) -> None:
        parsed = MessageFrame(data=frame)
        if not parsed.is_valid():
            await self._error("bad_message", "body and ref must be strings without NUL", fields=parsed.errors)
            return
        body, ref = parsed.validated_data["body"], parsed.validated_data["ref"] or ""
        try:
            message, created = await database_sync_to_async(services.message_send)(
                consultation_id=self.consultation_id,
                sender=self.acting_as,
                body=body,
                client_ref=ref,
                language=scope_requested_language(self.scope),
            )
        except services.ConsultationError as exc:
            await self._error("refused", str(exc), ref=ref or None)
            return
        if not created:
            # A re-sent message: the group heard it the first time; this
            # client may not have, so it gets the stored one.
            payload = await database_sync_to_async(message_payload)(message)
            await self.send(text_data=_dumps({"type": "message", "message": payload}))

    async def _mark(self, kind: str, frame: dict) -> None:
        parsed = MarkFrame(data=frame)
        if not parsed.is_valid():
            await self._error("bad_mark", "up_to must be a message id", fields=parsed.errors)
            return
        up_to = parsed.validated_data["up_to"]
        mark = services.messages_mark_read if kind == "read" else services.messages_mark_delivered
        try:
            await database_sync_to_async(mark)(consultation_id=self.consultation_id, reader=self.acting_as, up_to=up_to)
        except services.ConsultationError as exc:
            await self._error("refused", str(exc))

    async def _signal(self, kind: str, frame: dict) -> None:
        field = SIGNALS[kind]
        payload = frame.get(field) if field else None
        if field and not isinstance(payload, dict | str):
            await self._error("bad_signal", f"{kind} needs {field}")
            return
        if kind == "offer":
            if not await _is_open(self.consultation_id):
                await self._error("refused", "the consultation is closed")
                return
            self.rtc_peer = None  # a new call: whoever answers first is the peer
        if self.rtc_peer is not None:
            await self._signal_to(self.rtc_peer, kind, payload)
        else:
            other = (
                consultation_worker_group(self.consultation_id)
                if self.side is Side.CLINICIAN
                else consultation_clinicians_group(self.consultation_id)
            )
            await self.channel_layer.group_send(other, self._signal_event(kind, payload))
        if kind == "hangup":
            self.rtc_peer = None

    def _signal_event(self, kind: str, payload: Any) -> dict[str, Any]:
        return {"type": "rtc.signal", "kind": kind, "payload": payload, "from_channel": self.channel_name}

    async def _signal_to(self, channel: str, kind: str, payload: Any) -> None:
        await self.channel_layer.send(channel, self._signal_event(kind, payload))

    async def _error(self, code: str, detail: str, **extra: Any) -> None:
        await self.send(text_data=_dumps({"type": "error", "code": code, "detail": detail, **extra}))

    # --- from the channel layer ---------------------------------------------

    async def consultation_changed(self, event: dict[str, Any]) -> None:
        await self.send(
            text_data=_dumps({"type": "consultation", "change": event["change"], "consultation": event["consultation"]})
        )

    async def consultation_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_dumps({"type": "message", "message": event["message"]}))

    async def consultation_marks(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_dumps({"type": "marks", "marks": event["marks"]}))

    async def consultation_recommendation(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_dumps({"type": "recommendation", "recommendation": event["recommendation"]}))

    async def consultation_clearance(self, event: dict[str, Any]) -> None:
        await self.send(text_data=_dumps({"type": "clearance", "clearance": event["clearance"]}))

    async def consultation_note(self, event: dict[str, Any]) -> None:
        # Only clinicians' connections are in the group notes go to; this
        # check keeps it so should a group ever be joined by mistake.
        if self.side is not Side.CLINICIAN:
            return
        await self.send(text_data=_dumps({"type": "note", "note": event["note"]}))

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event["sender_channel"] != self.channel_name and event["from"] != str(self.side):
            await self.send(text_data=_dumps({"type": "typing", "from": event["from"]}))

    async def rtc_signal(self, event: dict[str, Any]) -> None:
        kind, sender = event["kind"], event["from_channel"]
        if kind == "offer":
            self.rtc_peer = sender
        elif kind == "answer":
            if self.rtc_peer is None:
                self.rtc_peer = sender
            elif self.rtc_peer != sender:
                # Someone else of this side answered first: this one is not needed.
                await self._signal_to(sender, "hangup", None)
                return
        elif self.rtc_peer is not None and self.rtc_peer != sender:
            return  # ice or hangup from a connection that is not in this call
        if kind == "hangup":
            self.rtc_peer = None
        frame: dict[str, Any] = {"type": kind}
        if SIGNALS[kind]:
            frame[SIGNALS[kind]] = event["payload"]
        await self.send(text_data=_dumps(frame))


class ConsultationListConsumer(RoleStreamConsumer):
    """The clinicians' lists of their sites, a worker's own list."""

    site_group = staticmethod(site_consultations_group)
    worker_group = staticmethod(worker_consultations_group)

    async def consultation_changed(self, event: dict[str, Any]) -> None:
        # Re-checked by dispatch (accounts.sockets); the request's reason on a
        # clinician's list is the worker's health data: logged once per
        # consultation per clinician.
        consultation = event["consultation"]
        await self.record_push(
            worker_id=consultation["worker"],
            what="consultation (live)",
            item=f"consultation:{consultation['id']}",
            origin=AccessOrigin.SOCKET_CONSULTATIONS,
        )
        await self.send(
            text_data=_dumps({"type": "consultation", "change": event["change"], "consultation": event["consultation"]})
        )
