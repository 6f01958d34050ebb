"""Who sees which consultation: the role matrix, the access log, notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from consultations import services
from consultations.selectors import (
    Side,
    consultation_for,
    consultation_history_of,
    consultation_list_for,
    consultations_visible_to,
    notes_visible_to,
    side_of,
)
from workers.models import AccessLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def charlies(charlie):
    return services.consultation_request(worker=charlie, reason="Back pain", urgency="routine")


@pytest.mark.parametrize(
    ("who", "sees_alices", "sees_charlies"),
    [
        ("alice", True, False),
        ("bob", False, False),
        ("charlie", False, True),
        ("clara", True, False),
        ("carl", False, True),
        ("hana", False, False),
        ("adam", False, False),
    ],
)
def test_role_matrix(
    requested, charlies, alice, bob, charlie, clara, carl, hana, adam, who, sees_alices, sees_charlies
):
    user = {
        "alice": alice.user,
        "bob": bob.user,
        "charlie": charlie.user,
        "clara": clara,
        "carl": carl,
        "hana": hana,
        "adam": adam,
    }[who]
    visible = set(consultations_visible_to(user))
    assert (requested in visible, charlies in visible) == (sees_alices, sees_charlies)
    if not sees_alices:
        with pytest.raises(Http404):
            consultation_for(user, requested.pk)


def test_a_clinicians_read_is_logged_and_the_workers_own_is_not(requested, alice, clara):
    consultation_for(alice.user, requested.pk)
    assert not AccessLog.objects.exists()
    consultation_for(clara, requested.pk)
    entry = AccessLog.objects.get()
    assert (entry.accessor, entry.worker, entry.what) == (clara, alice, "consultation")


def test_sides(requested, alice, clara):
    assert side_of(alice.user, requested) is Side.WORKER
    assert side_of(clara, requested) is Side.CLINICIAN


def test_notes_are_for_the_sites_clinicians_only_never_the_worker(with_note, alice, clara, carl):
    assert [n.body for n in notes_visible_to(clara, with_note)]
    assert list(notes_visible_to(alice.user, with_note)) == []
    assert list(notes_visible_to(carl, with_note)) == []


def test_lists_per_role(requested, charlies, alice, clara, carl, hana, adam):
    assert consultation_list_for(alice.user) == [requested]
    assert consultation_list_for(clara) == [requested]
    assert consultation_list_for(carl) == [charlies]
    assert consultation_list_for(hana) is None
    assert consultation_list_for(adam) is None


def test_clinicians_list_puts_the_most_urgent_first_and_logs_the_read(alice, bob, clara):
    routine = services.consultation_request(worker=alice, reason="Question", urgency="routine")
    urgent = services.consultation_request(worker=bob, reason="Chest pain", urgency="urgent")
    assert consultation_list_for(clara) == [urgent, routine]
    assert {e.worker for e in AccessLog.objects.filter(accessor=clara)} == {alice, bob}


def test_history_of_a_worker_is_newest_first(alice, bob):
    now = timezone.now()
    older = services.consultation_request(worker=alice, reason="First", urgency="routine", now=now - timedelta(days=1))
    newer = services.consultation_request(worker=alice, reason="Second", urgency="routine", now=now)
    services.consultation_request(worker=bob, reason="Bob's", urgency="routine", now=now)
    assert list(consultation_history_of(alice)) == [newer, older]
