"""Consultations of the fixed cast: alice asks, clara (her site's clinician)
answers; carl is the other site's clinician, hana HR, adam site admin."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_apply
from consultations import services

# Written in a note by clara; must never reach alice by any route.
NOTE_TEXT = "Suspect dehydration; ask about the new medication"


@pytest.fixture
def requested(alice):
    return services.consultation_request(worker=alice, reason="Dizzy since lunch", urgency="soon")


@pytest.fixture
def active(requested, clara):
    return services.consultation_take(consultation_id=requested.pk, clinician=clara)


@pytest.fixture
def with_note(active, clara):
    services.note_add(consultation_id=active.pk, author=clara, body=NOTE_TEXT)
    return active


@pytest.fixture
def alice_alert(alice):
    return alert_apply(
        worker_id=alice.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=timezone.now()
    )


@pytest.fixture
def sent(monkeypatch):
    """The (group, event) pairs the services send after commit."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr("consultations.services.group_send_now", lambda group, event: events.append((group, event)))
    return events
