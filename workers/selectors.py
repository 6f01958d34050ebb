from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from workers.models import (
    AccessLog,
    Consent,
    ConsentDecision,
    ConsentText,
    ShiftPattern,
    StaffRole,
    Worker,
    WorkerEvent,
)
from workers.roles import sites_for_role
from workers.services import access_log_record


def workers_health_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Worker]:
    """The workers whose health data ``user`` may read.

    A worker sees themself; a clinician sees the workers of their sites. HR,
    site administrators and everyone else see nobody: this is the one place
    the rule lives, and every view, API and consumer goes through it.
    """
    if not user.is_authenticated:
        return Worker.objects.none()
    visible = Q(user=user)
    clinician_sites = sites_for_role(user, StaffRole.CLINICIAN)
    visible |= Q(site__in=clinician_sites)
    return Worker.objects.filter(visible)


def worker_health_for(user: AbstractBaseUser, worker_id: int, *, what: str, reason: str = "") -> Worker:
    """The worker whose health data ``user`` is about to read, with the read
    written to the access log; Http404 if ``user`` may not see them (404, not
    403, so that existence is not revealed)."""
    worker = workers_health_visible_to(user).filter(pk=worker_id).first()
    if worker is None:
        raise Http404
    access_log_record(accessor=user, worker=worker, what=what, reason=reason)
    return worker


# Usual local hours of the fixed patterns, used when no shift is scheduled.
# Rotations have no usual hours: without a schedule they are not on shift.
PATTERN_HOURS = {ShiftPattern.DAY: (8, 17), ShiftPattern.NIGHT: (20, 5)}


def worker_on_shift(worker: Worker, now: datetime, *, scheduled: list[tuple[datetime, datetime]] | None = None) -> bool:
    """Whether ``worker`` is at work at ``now``: a scheduled shift covers it,
    or, without any schedule around it, the pattern's usual hours do.
    ``scheduled`` (the worker's shifts within a day of ``now``) spares the
    query when the caller has them already."""
    if scheduled is None:
        shifts = worker.shifts.filter(starts_at__lte=now + timedelta(hours=24), ends_at__gte=now - timedelta(hours=24))
        scheduled = list(shifts.values_list("starts_at", "ends_at"))
    if scheduled:
        return any(start <= now < end for start, end in scheduled)
    hours = PATTERN_HOURS.get(worker.shift_pattern)
    if hours is None:
        return False
    local = now.astimezone(ZoneInfo(worker.site.timezone))
    start, end = hours
    if local.weekday() >= 5 and start < end:
        return False  # day workers are off at weekends
    if start < end:
        return start <= local.hour < end
    return local.hour >= start or local.hour < end


# --- Consent ---------------------------------------------------------------
# Monitoring requires the worker's recorded consent. A worker without any
# consent record has not consented: device authentication refuses their
# devices (4403) and nothing of theirs is processed until they agree in the
# portal (worker_has_consent for one worker, workers_with_consent for many).


def consent_text_current() -> ConsentText | None:
    """The newest published consent text."""
    return ConsentText.objects.order_by("-version").first()


def consent_latest(worker_id: int) -> Consent | None:
    """The worker's standing decision (their latest), with its text."""
    return Consent.objects.filter(worker_id=worker_id).select_related("text").order_by("-at", "-id").first()


def worker_has_consent(worker_id: int) -> bool:
    """Whether the worker's latest consent decision is "granted" (one index
    probe: cheap enough for every device authentication)."""
    decision = (
        Consent.objects.filter(worker_id=worker_id).order_by("-at", "-id").values_list("decision", flat=True).first()
    )
    return decision == ConsentDecision.GRANTED


def workers_with_consent(workers: QuerySet[Worker] | None = None) -> QuerySet[Worker]:
    """``workers`` (default: all) whose latest decision is "granted", for
    periodic tasks that go through many workers at once."""
    latest = Consent.objects.filter(worker=OuterRef("pk")).order_by("-at", "-id").values("decision")[:1]
    workers = Worker.objects.all() if workers is None else workers
    return workers.annotate(consent_decision=Subquery(latest)).filter(consent_decision=ConsentDecision.GRANTED)


def consent_history(worker: Worker) -> QuerySet[Consent]:
    """The worker's decisions, newest first."""
    return worker.consents.select_related("text").order_by("-at", "-id")


def worker_events_about(worker: Worker) -> QuerySet[WorkerEvent]:
    """What was done to the worker's wearables, newest first (their privacy page)."""
    return WorkerEvent.objects.filter(worker=worker).select_related("by__staff_profile").order_by("-at", "-id")


def access_log_about(worker: Worker) -> QuerySet[AccessLog]:
    """Who read the worker's health data, newest first, with the reader's role."""
    return AccessLog.objects.filter(worker=worker).select_related("accessor__staff_profile").order_by("-at", "-id")


def site_clinicians(worker: Worker) -> list[AbstractBaseUser]:
    """The clinicians who may see ``worker``'s health data (those of the site)."""
    from django.contrib.auth import get_user_model

    return list(
        get_user_model()
        .objects.filter(staff_profile__role=StaffRole.CLINICIAN, staff_profile__sites=worker.site_id)
        .order_by("last_name", "first_name", "username")
    )
