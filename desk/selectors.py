"""Reads for the clinician's desk: a site's overview (who is on shift, whose
device is silent, open alerts per department) and what the worker page shows
besides readings. Selectors only: nothing here writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from consultations.models import Consultation
from workers.models import CheckIn, Department, Shift, Site, StaffRole, Worker
from workers.roles import sites_for_role
from workers.selectors import worker_on_shift, workers_health_visible_to

# The worker page's charts: (key, span, bucket width for the readings API).
# Each chart has span / width points at most: 120, 288, 336 and 360.
CHART_RANGES: list[tuple[str, timedelta, str]] = [
    ("1h", timedelta(hours=1), "30s"),
    ("1d", timedelta(days=1), "5m"),
    ("1w", timedelta(days=7), "30m"),
    ("1m", timedelta(days=30), "2h"),
]
# The span a chart shows (not a unit of time or a date): "1 hour", "1 day"...
RANGE_LABELS = {
    "1h": pgettext_lazy("chart range", "Hour"),
    "1d": pgettext_lazy("chart range", "Day"),
    "1w": pgettext_lazy("chart range", "Week"),
    "1m": pgettext_lazy("chart range", "Month"),
}
STAT_LABELS = {"time": _("time"), "min": _("minimum"), "mean": _("mean"), "max": _("maximum")}

# What people call each metric of the device protocol (docs/device-protocol.md).
METRIC_LABELS = {
    "heart_rate": _("Heart rate"),
    "spo2": _("Blood oxygen (SpO₂)"),
    "core_temp": _("Core temperature"),
    "skin_temp": _("Skin temperature"),
    "resp_rate": _("Respiration rate"),
    "hrv_rmssd": _("Heart rate variability (RMSSD)"),
    "hrv_sdnn": _("Heart rate variability (SDNN)"),
    "steps": _("Steps"),
    "ambient_temp": _("Ambient temperature"),
    "ambient_humidity": _("Ambient humidity"),
    "battery": _("Battery"),
    "fall": _("Fall"),
    "sos": _("SOS"),
}

# The protocol's units (devices.protocol.METRICS), as people read them.
UNIT_LABELS = {
    "beats/min": _("beats/min"),
    "breaths/min": _("breaths/min"),
    "count": _("steps"),
    "event": _("event"),
}


def clinician_site(user: AbstractBaseUser, site_id: int) -> Site:
    """The site, if ``user`` is one of its clinicians; Http404 otherwise."""
    site = sites_for_role(user, StaffRole.CLINICIAN).filter(pk=site_id).first()
    if site is None:
        raise Http404
    return site


@dataclass
class WorkerOnShift:
    worker: Worker
    last_seen: datetime | None
    has_device: bool
    silent: bool


@dataclass
class DepartmentAlerts:
    department: Department
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


@dataclass
class SiteOverview:
    site: Site
    now: datetime
    silent_after: timedelta
    on_shift: list[WorkerOnShift]
    off_shift: list[Worker]
    departments: list[DepartmentAlerts]

    @property
    def silent_minutes(self) -> int:
        return int(self.silent_after.total_seconds() // 60)

    @property
    def silent(self) -> list[WorkerOnShift]:
        return [entry for entry in self.on_shift if entry.silent]

    @property
    def open_alerts(self) -> int:
        return sum(d.total for d in self.departments)


def site_overview(user: AbstractBaseUser, site: Site, now: datetime) -> SiteOverview:
    """Who of ``site`` is on shift at ``now`` and whose active devices have
    sent nothing for the signal-lost time (the rule's threshold, 10 minutes
    by default), and the unresolved alerts per department by severity.

    Four queries whatever the number of workers: workers with their newest
    last-seen time, the shifts around ``now``, the departments, the alert
    counts. Only workers visible to ``user`` are listed (the one access rule).
    """
    from alerts.models import AlertStatus
    from alerts.selectors import alerts_visible_to, thresholds_for
    from devices.models import DeviceStatus

    silent_after = timedelta(minutes=thresholds_for(site.pk).signal_lost_minutes)
    active = Q(devices__status=DeviceStatus.ACTIVE)
    workers = (
        workers_health_visible_to(user)
        .filter(site=site)
        .annotate(last_seen=Max("devices__last_seen_at", filter=active), active_devices=Count("devices", filter=active))
        .select_related("user", "department", "site")
        .order_by("department__name", "employee_number")
    )
    scheduled: dict[int, list[tuple[datetime, datetime]]] = {}
    around = Shift.objects.filter(
        worker__site=site, starts_at__lte=now + timedelta(hours=24), ends_at__gte=now - timedelta(hours=24)
    )
    for worker_id, start, end in around.values_list("worker_id", "starts_at", "ends_at"):
        scheduled.setdefault(worker_id, []).append((start, end))
    on_shift: list[WorkerOnShift] = []
    off_shift: list[Worker] = []
    for worker in workers:
        if not worker_on_shift(worker, now, scheduled=scheduled.get(worker.pk, [])):
            off_shift.append(worker)
            continue
        has_device = worker.active_devices > 0
        silent = has_device and (worker.last_seen is None or now - worker.last_seen >= silent_after)
        on_shift.append(WorkerOnShift(worker, worker.last_seen, has_device, silent))

    counts: dict[int, Counter] = {}
    open_alerts = (
        alerts_visible_to(user)
        .filter(worker__site=site)
        .exclude(status=AlertStatus.RESOLVED)
        .values_list("worker__department_id", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for department_id, severity, n in open_alerts:
        counts.setdefault(department_id, Counter())[severity] += n
    departments = [
        DepartmentAlerts(department, dict(counts.get(department.pk, {})))
        for department in Department.objects.filter(site=site).order_by("name")
    ]
    return SiteOverview(site, now, silent_after, on_shift, off_shift, departments)


def checkins_between(worker: Worker, start_day, end_day) -> list[CheckIn]:
    """``worker``'s check-ins from ``start_day`` to ``end_day`` (local days,
    inclusive), oldest first. The caller has checked access to the worker."""
    return list(CheckIn.objects.filter(worker=worker, day__gte=start_day, day__lte=end_day).order_by("day"))


def consultations_of(worker: Worker, limit: int = 50) -> list[Consultation]:
    """The worker's consultations, newest first. The caller has checked access
    to the worker."""
    return list(Consultation.objects.filter(worker=worker).order_by("-pk")[:limit])
