"""What pages, the JSON API and sockets receive about a consultation: one
shape for each, built here. None of these carries a clinician note except
``note_payload``, which only goes to clinicians."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from accounts.languages import language_name
from consultations.models import Clearance, Consultation, Message, Note, Recommendation
from workers.names import person_name


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def consultation_payload(consultation: Consultation) -> dict:
    worker = consultation.worker
    return {
        "id": consultation.pk,
        "worker": consultation.worker_id,
        "employee_number": worker.employee_number,
        "worker_name": person_name(worker.user),
        "clinician": consultation.clinician_id,
        "clinician_name": person_name(consultation.clinician) if consultation.clinician else None,
        "reason": consultation.shown_reason,
        "urgency": consultation.urgency,
        "status": consultation.status,
        "outcome": consultation.outcome or None,
        "alert": consultation.alert_id,
        "requested_at": _iso(consultation.requested_at),
        "started_at": _iso(consultation.started_at),
        "closed_at": _iso(consultation.closed_at),
    }


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "consultation": message.consultation_id,
        "from": "worker" if message.from_worker else "clinician",
        "sender": message.sender_id,
        "sender_name": person_name(message.sender),
        "body": message.body,
        "language": message.language or None,
        "language_name": language_name(message.language),
        "ref": message.client_ref or None,
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
    }


def _guide(recommendation: Recommendation) -> dict | None:
    """The guidance page to read with a recommendation: its slug, title in
    the active language, and address (a portal URL, reversed by name: the
    portal serves the page, this app only names it)."""
    page = recommendation.guide_page
    if page is None:
        return None
    return {"slug": page.slug, "title": str(page.title), "url": reverse("portal:guide", args=[page.slug])}


def recommendation_payload(recommendation: Recommendation) -> dict:
    return {
        "id": recommendation.pk,
        "author_name": person_name(recommendation.author),
        "body": recommendation.body,
        "guide": _guide(recommendation),
        "created_at": _iso(recommendation.created_at),
    }


def clearance_payload(clearance: Clearance) -> dict:
    return {
        "id": clearance.pk,
        "consultation": clearance.consultation_id,
        "clinician_name": person_name(clearance.clinician),
        "return_on": clearance.return_on.isoformat(),
        "note": clearance.note,
        "recorded_at": _iso(clearance.recorded_at),
    }


def note_payload(note: Note) -> dict:
    """Clinicians only."""
    return {
        "id": note.pk,
        "author_name": person_name(note.author),
        "body": note.body,
        "created_at": _iso(note.created_at),
    }
