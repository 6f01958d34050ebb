"""Reads for the clinician's desk: the triage queue and a worker's alerts
over time. Selectors only; the one write is the access-log entry that every
read of someone else's health data leaves (as workers.selectors does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from alerts.models import Alert, AlertStatus
from alerts.selectors import alerts_visible_to
from workers.models import StaffRole, Worker
from workers.roles import sites_for_role
from workers.services import access_log_record

# The queue shows at most this many rows: a clinician filters rather than scrolls.
QUEUE_LIMIT = 200

UNRESOLVED = "unresolved"
STATUS_FILTERS = (UNRESOLVED, AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED)


@dataclass(frozen=True)
class TriageFilters:
    """What the clinician narrowed the queue to; None means "all"."""

    site_id: int | None = None
    department_id: int | None = None
    kind: str | None = None
    status: str = UNRESOLVED


def _desk_alerts(user: AbstractBaseUser) -> QuerySet[Alert]:
    # The desk is for the sites where the user is a clinician: alerts_visible_to
    # is the access rule, the site restriction keeps a clinician's own alerts
    # (should they also be a monitored worker) out of their work queue.
    return alerts_visible_to(user).filter(worker__site__in=sites_for_role(user, StaffRole.CLINICIAN))


def _triage_queryset(user: AbstractBaseUser, filters: TriageFilters) -> QuerySet[Alert]:
    qs = _desk_alerts(user)
    if filters.site_id is not None:
        qs = qs.filter(worker__site_id=filters.site_id)
    if filters.department_id is not None:
        qs = qs.filter(worker__department_id=filters.department_id)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.status == UNRESOLVED:
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    else:
        qs = qs.filter(status=filters.status)
    if filters.status == AlertStatus.RESOLVED:
        # Closed alerts are history: newest first.
        qs = qs.order_by("-resolved_at", "-pk")
    else:
        # Worst first, then the one waiting longest (the alert_triage index).
        qs = qs.order_by("-severity_rank", "opened_at", "pk")
    return qs.select_related("worker__user", "worker__department", "worker__site", "acknowledged_by")


def _logged(user: AbstractBaseUser, alerts: list[Alert]) -> list[Alert]:
    for worker in {alert.worker for alert in alerts}:
        access_log_record(accessor=user, worker=worker, what="alerts")
    return alerts


def triage_queue(user: AbstractBaseUser, filters: TriageFilters) -> list[Alert]:
    """The alerts of ``user``'s clinician sites matching ``filters``, worst
    and oldest first (resolved ones newest first), at most QUEUE_LIMIT; the
    read is written to each listed worker's access log. Empty for anyone who
    is not a clinician."""
    return _logged(user, list(_triage_queryset(user, filters)[:QUEUE_LIMIT]))


def triage_alert(user: AbstractBaseUser, alert_id: int, filters: TriageFilters) -> tuple[bool, Alert | None]:
    """One alert as the queue would show it: (visible, alert). ``visible`` is
    False when ``user`` may not see the alert at all; the alert is None when
    it is visible but not in the queue as filtered. A shown alert is logged."""
    if not _desk_alerts(user).filter(pk=alert_id).exists():
        return False, None
    alert = _triage_queryset(user, filters).filter(pk=alert_id).first()
    if alert is None:
        return True, None
    return True, _logged(user, [alert])[0]


def alerts_between(worker: Worker, start: datetime, end: datetime) -> list[Alert]:
    """``worker``'s alerts that were unresolved at some time in [start, end),
    oldest first. The caller has checked (and logged) access to the worker."""
    overlapping = Q(opened_at__lt=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
    return list(Alert.objects.filter(overlapping, worker=worker).order_by("opened_at", "pk")[:1000])
