"""Reads of consultations. The access rule is the workers' one
(workers.selectors.workers_health_visible_to): the worker themself and the
clinicians of the worker's site; notes go to those clinicians only."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from consultations.models import Clearance, Consultation, ConsultationStatus, Message, Note, Recommendation
from workers.models import StaffRole, Worker
from workers.roles import sites_for_role, worker_of
from workers.selectors import worker_health_for, workers_health_visible_to
from workers.services import access_log_record

# How long a closed consultation stays on a clinician's list.
RECENTLY_CLOSED = timedelta(days=7)


class Side(StrEnum):
    """Which side of a consultation a user is on."""

    WORKER = "worker"
    CLINICIAN = "clinician"


def consultations_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Consultation]:
    """Consultations of the workers whose health data ``user`` may read."""
    return Consultation.objects.filter(worker__in=workers_health_visible_to(user))


def consultation_for(user: AbstractBaseUser, consultation_id: int, *, what: str = "consultation") -> Consultation:
    """The consultation ``user`` is about to read, with the read written to
    the access log (through workers.selectors.worker_health_for); Http404 if
    ``user`` may not see it."""
    consultation = (
        consultations_visible_to(user)
        .select_related("worker__user", "worker__site", "worker__department", "clinician", "alert")
        .filter(pk=consultation_id)
        .first()
    )
    if consultation is None:
        raise Http404
    worker_health_for(user, consultation.worker_id, what=what)
    return consultation


def consultation_side_now(user: AbstractBaseUser, consultation_id: int) -> Side | None:
    """The side ``user`` is on in the consultation now, or None if they may
    no longer see it; nothing is logged (an open socket re-checking the
    user it was opened by, not a new read)."""
    consultation = consultations_visible_to(user).select_related("worker").filter(pk=consultation_id).first()
    return None if consultation is None else side_of(user, consultation)


def side_of(user: AbstractBaseUser | AnonymousUser, consultation: Consultation) -> Side | None:
    """The worker of the consultation, a clinician of the worker's site, or
    nobody (None). A clinician who is also this consultation's worker is the
    worker: their own consultation's notes are not for them."""
    if not user.is_authenticated:
        return None
    if consultation.worker.user_id == user.pk:
        return Side.WORKER
    if sites_for_role(user, StaffRole.CLINICIAN).filter(pk=consultation.worker.site_id).exists():
        return Side.CLINICIAN
    return None


def consultation_list_for(user: AbstractBaseUser) -> list[Consultation] | None:
    """The consultations list page: a worker's own consultations, newest
    first; a clinician's requested and active consultations of their sites,
    most urgent and oldest first, then those closed in the last week. None
    for anyone with no consultations to see (HR, site administrators).
    A clinician's reading of the list is written to the access log."""
    if worker_of(user) is not None:
        return list(
            Consultation.objects.filter(worker__user=user).select_related("clinician").order_by("-requested_at")[:200]
        )
    sites = sites_for_role(user, StaffRole.CLINICIAN)
    if not sites.exists():
        return None
    visible = Consultation.objects.filter(worker__site__in=sites).select_related(
        "worker__user", "worker__department", "clinician"
    )
    open_ones = list(visible.exclude(status=ConsultationStatus.CLOSED).order_by("-urgency_rank", "requested_at")[:500])
    closed = list(
        visible.filter(status=ConsultationStatus.CLOSED, closed_at__gte=timezone.now() - RECENTLY_CLOSED).order_by(
            "-closed_at"
        )[:200]
    )
    for worker in {c.worker for c in open_ones + closed}:
        access_log_record(accessor=user, worker=worker, what="consultations")
    return open_ones + closed


def consultation_history_of(worker: Worker) -> QuerySet[Consultation]:
    """A worker's consultations, newest first, for a page that has already
    admitted its reader through workers.selectors.worker_health_for (the
    clinician's worker page, the worker's own data)."""
    return worker.consultations.select_related("clinician").order_by("-requested_at")


def messages_of(consultation: Consultation) -> QuerySet[Message]:
    return consultation.messages.select_related("sender").order_by("id")


def recommendations_of(consultation: Consultation) -> QuerySet[Recommendation]:
    return consultation.recommendations.select_related("author").order_by("created_at", "id")


def clearances_of(consultation: Consultation) -> QuerySet[Clearance]:
    return consultation.clearances.select_related("clinician")


def notes_visible_to(user: AbstractBaseUser, consultation: Consultation) -> QuerySet[Note]:
    """The consultation's notes for the clinicians of the worker's site; none
    for anyone else, the worker included."""
    if side_of(user, consultation) is not Side.CLINICIAN:
        return Note.objects.none()
    return consultation.notes.select_related("author").order_by("created_at", "id")
