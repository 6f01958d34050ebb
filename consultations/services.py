"""Writes of consultations: request, start from an alert, take, chat, read
marks, notes, recommendations, close, return-to-work clearance.

Every write checks who is acting (the consultation's worker, or a clinician
of the worker's site, as consultations.selectors.side_of says) and, after
commit, tells the channel-layer groups of healthhub.live: the consultation's
group (both sides), its clinicians' group (notes), and the consultation
lists of the site's clinicians and of the worker.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from accounts.languages import user_language
from alerts.guidance import BY_SLUG as GUIDES_BY_SLUG
from alerts.models import Alert
from consultations.models import (
    Clearance,
    Consultation,
    ConsultationStatus,
    Message,
    Note,
    Outcome,
    Recommendation,
    Urgency,
)
from consultations.payloads import (
    clearance_payload,
    consultation_payload,
    message_payload,
    note_payload,
    recommendation_payload,
)
from consultations.selectors import Side, side_of
from healthhub.live import (
    consultation_clinicians_group,
    consultation_group,
    group_send_now,
    site_consultations_group,
    worker_consultations_group,
)
from workers.models import Worker

MAX_MESSAGE = 4000
MAX_TEXT = 2000

# An alert's severity decides how soon the consultation it starts is due.
URGENCY_OF_SEVERITY = {"critical": Urgency.URGENT, "urgent": Urgency.URGENT, "warning": Urgency.SOON}


class ConsultationError(Exception):
    """An action that does not apply: the wrong person, the wrong state, or
    an empty text. The message is for the user, in their language."""


def _send_after_commit(*sends: tuple[str, dict[str, Any]]) -> None:
    def send() -> None:
        for group, event in sends:
            group_send_now(group, event)

    transaction.on_commit(send)


def _publish_changed(consultation: Consultation, change: str) -> None:
    """The consultation's page, the site's clinicians' lists and the
    worker's list learn of a new consultation or a new state."""
    event = {"type": "consultation.changed", "change": change, "consultation": consultation_payload(consultation)}
    _send_after_commit(
        (consultation_group(consultation.pk), event),
        (site_consultations_group(consultation.worker.site_id), event),
        (worker_consultations_group(consultation.worker_id), event),
    )


def _text(value: str, limit: int, empty_message: str) -> str:
    value = value.strip()
    if not value:
        raise ConsultationError(empty_message)
    if len(value) > limit:
        raise ConsultationError(gettext("The text is too long (at most %(limit)d characters).") % {"limit": limit})
    return value


def _locked(consultation_id: int) -> Consultation:
    # Locks the consultation row only: chat writes of one consultation queue
    # behind each other, nothing else does.
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("worker__user", "worker__site")
        .get(pk=consultation_id)
    )


def _require(user: AbstractBaseUser, consultation: Consultation, *sides: Side) -> Side:
    side = side_of(user, consultation)
    if side is None or side not in sides:
        if sides == (Side.CLINICIAN,):
            raise ConsultationError(gettext("Only a clinician of the worker's site can do this."))
        raise ConsultationError(gettext("You are not part of this consultation."))
    return side


def _require_open(consultation: Consultation) -> None:
    if consultation.status == ConsultationStatus.CLOSED:
        raise ConsultationError(gettext("This consultation is closed."))


def _engage(consultation: Consultation, clinician: AbstractBaseUser, now: datetime) -> bool:
    """A clinician acting on a requested consultation takes it. Returns
    whether it was taken now."""
    if consultation.status != ConsultationStatus.REQUESTED:
        return False
    consultation.status = ConsultationStatus.ACTIVE
    consultation.clinician = clinician
    consultation.started_at = now
    consultation.save(update_fields=["status", "clinician", "started_at"])
    return True


@transaction.atomic
def consultation_request(*, worker: Worker, reason: str, urgency: str, now: datetime | None = None) -> Consultation:
    """The worker asks for a consultation. It waits, requested, until a
    clinician of the worker's site takes it; their lists show it at once."""
    reason = _text(reason, MAX_TEXT, gettext("Please say what the consultation is about."))
    if urgency not in Urgency.values:
        raise ConsultationError(gettext("Choose how urgent it is."))
    consultation = Consultation.objects.create(
        worker=worker, reason=reason, urgency=urgency, requested_at=now or timezone.now()
    )
    _publish_changed(consultation, "requested")
    return consultation


def _reason_of(alert: Alert) -> str:
    # Language-neutral: the alert's message as the rules write it (the
    # catalogue's msgid); Consultation.shown_reason translates it for each
    # reader, so a Korean clinician and an English-reading worker both read
    # it in their own language.
    return alert.message


def consultation_start_from_alert(
    *, alert_id: int, clinician: AbstractBaseUser, now: datetime | None = None
) -> tuple[Consultation, bool]:
    """A clinician of the worker's site starts a consultation about an
    alert, active and theirs at once; or, if there is already one for that
    alert, gets that one. Returns (consultation, created)."""
    alert = Alert.objects.select_related("worker__user").get(pk=alert_id)
    existing = Consultation.objects.select_related("worker__user").filter(alert=alert).first()
    if existing is not None:
        _require(clinician, existing, Side.CLINICIAN)
        return existing, False
    now = now or timezone.now()
    consultation = Consultation(
        worker=alert.worker,
        clinician=clinician,
        alert=alert,
        reason=_reason_of(alert),
        urgency=URGENCY_OF_SEVERITY.get(alert.severity, Urgency.ROUTINE),
        status=ConsultationStatus.ACTIVE,
        requested_at=now,
        started_at=now,
    )
    _require(clinician, consultation, Side.CLINICIAN)
    try:
        with transaction.atomic():
            consultation.save()
            _publish_changed(consultation, "started")
    except IntegrityError:
        # Another clinician started one for this alert a moment ago.
        return Consultation.objects.select_related("worker__user").get(alert=alert), False
    return consultation, True


@transaction.atomic
def consultation_take(
    *, consultation_id: int, clinician: AbstractBaseUser, now: datetime | None = None
) -> Consultation:
    """A clinician of the worker's site takes a requested consultation.
    Taking one's own again changes nothing; one taken by someone else cannot
    be taken (any clinician of the site can still join the chat)."""
    consultation = _locked(consultation_id)
    _require(clinician, consultation, Side.CLINICIAN)
    _require_open(consultation)
    if consultation.status == ConsultationStatus.ACTIVE:
        if consultation.clinician_id == clinician.pk:
            return consultation
        raise ConsultationError(gettext("Another clinician has already taken this consultation."))
    _engage(consultation, clinician, now or timezone.now())
    _publish_changed(consultation, "taken")
    return consultation


@transaction.atomic
def message_send(
    *,
    consultation_id: int,
    sender: AbstractBaseUser,
    body: str,
    client_ref: str = "",
    language: str | None = None,
    now: datetime | None = None,
) -> tuple[Message, bool]:
    """Store a chat message and send it to everyone in the consultation,
    marked with the sender's language (accounts.languages.user_language:
    a worker's chosen one, else ``language``, what the sender's browser
    asked for, else the default).

    A clinician writing in a requested consultation takes it. A message
    re-sent with the same ``client_ref`` is stored once: the second call
    returns the first message. Returns (message, created).
    """
    body = _text(body, MAX_MESSAGE, gettext("A message cannot be empty."))
    client_ref = client_ref.strip()[:64]
    consultation = _locked(consultation_id)
    side = _require(sender, consultation, Side.WORKER, Side.CLINICIAN)
    _require_open(consultation)
    if client_ref:
        existing = Message.objects.filter(consultation=consultation, sender=sender, client_ref=client_ref).first()
        if existing is not None:
            return existing, False
    now = now or timezone.now()
    if side is Side.CLINICIAN and _engage(consultation, sender, now):
        _publish_changed(consultation, "taken")
    message = Message.objects.create(
        consultation=consultation,
        sender=sender,
        from_worker=side is Side.WORKER,
        body=body,
        client_ref=client_ref,
        language=user_language(sender, requested=language),
        sent_at=now,
    )
    _send_after_commit(
        (consultation_group(consultation.pk), {"type": "consultation.message", "message": message_payload(message)})
    )
    return message, True


def _mark(
    *, consultation_id: int, reader: AbstractBaseUser, up_to: int | None, read: bool, now: datetime | None
) -> list[int]:
    with transaction.atomic():
        consultation = _locked(consultation_id)
        side = _require(reader, consultation, Side.WORKER, Side.CLINICIAN)
        # A reader marks the other side's messages only.
        pending = Message.objects.filter(consultation=consultation, from_worker=side is Side.CLINICIAN)
        pending = pending.filter(read_at__isnull=True) if read else pending.filter(delivered_at__isnull=True)
        if up_to is not None:
            pending = pending.filter(pk__lte=up_to)
        ids = list(pending.order_by("pk").values_list("pk", flat=True))
        if not ids:
            return []
        now = now or timezone.now()
        if read:
            Message.objects.filter(pk__in=ids).update(read_at=now, delivered_at=Coalesce(F("delivered_at"), Value(now)))
        else:
            Message.objects.filter(pk__in=ids).update(delivered_at=now)
        marks = Message.objects.filter(pk__in=ids).values("pk", "delivered_at", "read_at")
        event = {
            "type": "consultation.marks",
            "marks": [
                {"id": m["pk"], "delivered_at": m["delivered_at"].isoformat(), "read_at": _iso(m["read_at"])}
                for m in marks
            ],
        }
        _send_after_commit((consultation_group(consultation.pk), event))
    return ids


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def messages_mark_delivered(
    *, consultation_id: int, reader: AbstractBaseUser, up_to: int | None = None, now: datetime | None = None
) -> list[int]:
    """The other side's messages (up to id ``up_to``, or all) reached
    ``reader``'s screen. Returns the ids newly marked; marks never change
    once set, so repeating this is harmless."""
    return _mark(consultation_id=consultation_id, reader=reader, up_to=up_to, read=False, now=now)


def messages_mark_read(
    *, consultation_id: int, reader: AbstractBaseUser, up_to: int | None = None, now: datetime | None = None
) -> list[int]:
    """``reader`` has read the other side's messages (up to id ``up_to``, or
    all); a message read is also delivered. Returns the ids newly marked."""
    return _mark(consultation_id=consultation_id, reader=reader, up_to=up_to, read=True, now=now)


@transaction.atomic
def note_add(*, consultation_id: int, author: AbstractBaseUser, body: str, now: datetime | None = None) -> Note:
    """A clinician's note, for the clinicians of the worker's site only: it
    goes to the consultation's clinicians' group, never to the worker."""
    body = _text(body, MAX_MESSAGE, gettext("A note cannot be empty."))
    consultation = _locked(consultation_id)
    _require(author, consultation, Side.CLINICIAN)
    note = Note.objects.create(consultation=consultation, author=author, body=body, created_at=now or timezone.now())
    _send_after_commit(
        (consultation_clinicians_group(consultation.pk), {"type": "consultation.note", "note": note_payload(note)})
    )
    return note


@transaction.atomic
def recommendation_add(
    *, consultation_id: int, author: AbstractBaseUser, body: str, guide: str = "", now: datetime | None = None
) -> Recommendation:
    """Advice from a clinician, shown to the worker at once, optionally with
    a guidance page to read (a slug of alerts.guidance). A clinician
    recommending something in a requested consultation takes it."""
    body = _text(body, MAX_TEXT, gettext("A recommendation cannot be empty."))
    if guide and guide not in GUIDES_BY_SLUG:
        raise ConsultationError(gettext("There is no such guidance page."))
    consultation = _locked(consultation_id)
    _require(author, consultation, Side.CLINICIAN)
    _require_open(consultation)
    now = now or timezone.now()
    if _engage(consultation, author, now):
        _publish_changed(consultation, "taken")
    recommendation = Recommendation.objects.create(
        consultation=consultation, author=author, body=body, guide=guide, created_at=now
    )
    event = {"type": "consultation.recommendation", "recommendation": recommendation_payload(recommendation)}
    _send_after_commit((consultation_group(consultation.pk), event))
    return recommendation


@transaction.atomic
def consultation_close(
    *, consultation_id: int, clinician: AbstractBaseUser, outcome: str, now: datetime | None = None
) -> Consultation:
    """A clinician of the worker's site closes the consultation with its
    outcome (fit for work, rest then return, go home, refer to hospital).
    Nothing more can be said in it afterwards; notes and a clearance can
    still be recorded."""
    if outcome not in Outcome.values:
        raise ConsultationError(gettext("Choose an outcome."))
    consultation = _locked(consultation_id)
    _require(clinician, consultation, Side.CLINICIAN)
    _require_open(consultation)
    now = now or timezone.now()
    _engage(consultation, clinician, now)
    consultation.status = ConsultationStatus.CLOSED
    consultation.outcome = outcome
    consultation.closed_at = now
    consultation.closed_by = clinician
    consultation.save(update_fields=["status", "outcome", "closed_at", "closed_by"])
    _publish_changed(consultation, "closed")
    return consultation


@transaction.atomic
def clearance_record(
    *, consultation_id: int, clinician: AbstractBaseUser, return_on: date, note: str = "", now: datetime | None = None
) -> Clearance:
    """A clinician of the worker's site clears the worker to return to work
    on ``return_on``, after the consultation is closed. A later clearance
    for the same consultation supersedes the earlier one, which is kept."""
    note = note.strip()
    if len(note) > MAX_TEXT:
        raise ConsultationError(gettext("The text is too long (at most %(limit)d characters).") % {"limit": MAX_TEXT})
    consultation = _locked(consultation_id)
    _require(clinician, consultation, Side.CLINICIAN)
    if consultation.status != ConsultationStatus.CLOSED:
        raise ConsultationError(gettext("Close the consultation with its outcome before recording a clearance."))
    if return_on < consultation.requested_at.astimezone(ZoneInfo(consultation.worker.site.timezone)).date():
        raise ConsultationError(gettext("The return date cannot be before the consultation."))
    clearance = Clearance.objects.create(
        consultation=consultation,
        worker=consultation.worker,
        clinician=clinician,
        return_on=return_on,
        note=note,
        recorded_at=now or timezone.now(),
    )
    event = {"type": "consultation.clearance", "clearance": clearance_payload(clearance)}
    _send_after_commit((consultation_group(consultation.pk), event))
    return clearance
