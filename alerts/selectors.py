"""Reads for the risk engine and the alert views."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from alerts.models import Alert, AlertEvent, Baseline, SiteThresholds
from alerts.rules.base import Profile, Sample, Window
from alerts.rules.thresholds import DEFAULTS, Thresholds
from devices.models import Reading, WindowBucket
from devices.sql import rows_of
from devices.windows import (
    EVENT_METRICS,
    HISTORY_SPAN,
    MINUTE_S,
    RAW_BUCKET_S,
    RAW_SPAN,
    bucket_value,
    floor_to,
    raw_from,
)
from workers.models import CheckIn, Worker
from workers.selectors import worker_on_shift, workers_health_visible_to

# The window's spans and buckets are kept by ingestion (devices.windows).
# An SOS or a fall is judged by when it arrived as much as by when it
# happened: one buffered by a device while offline is still news when it
# arrives (alerts.rules.events). Those that arrived this recently are loaded
# whatever their age.
EVENT_SPAN = timedelta(minutes=10)


def window_load(worker_id: int, now: datetime) -> Window:
    """The worker's readings up to ``now``, per metric, oldest first."""
    return windows_load([worker_id], now)[worker_id]


def windows_load(worker_ids: list[int] | set[int], now: datetime) -> dict[int, Window]:
    """``window_load`` for many workers at once: two queries whatever their
    number, each reading a few hundred rows per worker whatever the
    readings' rate (the buckets ingestion keeps, devices.windows), and SOS
    and falls as stored."""
    ids = sorted(set(worker_ids))
    series: dict[int, dict[str, list[Sample]]] = {worker_id: defaultdict(list) for worker_id in ids}
    raw_start = raw_from(now)
    buckets = (
        WindowBucket.objects.filter(worker_id__in=ids)
        .filter(
            Q(span=MINUTE_S, start__gte=floor_to(now - HISTORY_SPAN, MINUTE_S), start__lt=raw_start)
            | Q(span=RAW_BUCKET_S, start__gte=raw_start, start__lte=now)
        )
        .order_by("start")
        .values_list("worker_id", "span", "metric", "start", "count", "total", "last_at")
    )
    for worker_id, span, metric, start, count, total, last_at in rows_of(buckets):
        # A minute's sample stands at the minute's start, a bucket's at its last reading.
        at = start if span == MINUTE_S else last_at
        series[worker_id][metric].append(Sample(at, bucket_value(metric, total, count)))
    events = (
        Reading.objects.filter(worker_id__in=ids, metric__in=EVENT_METRICS, measured_at__lte=now)
        .filter(Q(measured_at__gte=now - RAW_SPAN) | Q(received_at__gte=now - EVENT_SPAN, received_at__lte=now))
        .order_by("measured_at")
    )
    for worker_id, metric, value, at, received in rows_of(
        events.values_list("worker_id", "metric", "value", "measured_at", "received_at")
    ):
        series[worker_id][metric].append(Sample(at, value, received_at=received))
    return {worker_id: Window(now=now, series=dict(by_metric)) for worker_id, by_metric in series.items()}


def thresholds_for(site_id: int) -> Thresholds:
    overrides = SiteThresholds.objects.filter(site_id=site_id).values_list("overrides", flat=True).first()
    return DEFAULTS.with_overrides(overrides) if overrides else DEFAULTS


def profile_load(worker: Worker, now: datetime) -> Profile:
    baseline = Baseline.objects.filter(worker=worker).first()
    return Profile(
        age=max(16, now.year - worker.birth_year),
        acclimatized=worker.acclimatized,
        spo2_scale2=worker.hypercapnic_respiratory_failure,
        on_shift=worker_on_shift(worker, now),
        rest_hr_baseline=baseline.rest_hr_median if baseline else None,
        rest_hr_spread=baseline.rest_hr_spread if baseline else None,
        checkin_temperature=checkin_temperature_today(worker, now),
    )


def profiles_load(workers: list[Worker], now: datetime) -> dict[int, Profile]:
    """``profile_load`` for many workers (their sites selected): four queries
    whatever their number."""
    from workers.models import Shift

    ids = [w.pk for w in workers]
    baselines = {
        b.worker_id: b
        for b in Baseline.objects.filter(worker_id__in=ids).only("worker_id", "rest_hr_median", "rest_hr_spread")
    }
    scheduled: dict[int, list[tuple[datetime, datetime]]] = {worker_id: [] for worker_id in ids}
    around = Shift.objects.filter(
        worker_id__in=ids, starts_at__lte=now + timedelta(hours=24), ends_at__gte=now - timedelta(hours=24)
    )
    for worker_id, start, end in around.values_list("worker_id", "starts_at", "ends_at"):
        scheduled[worker_id].append((start, end))
    days = {w.pk: now.astimezone(ZoneInfo(w.site.timezone)).date() for w in workers}
    temperatures = {
        (worker_id, day): temperature
        for worker_id, day, temperature in CheckIn.objects.filter(
            worker_id__in=ids, day__in=set(days.values())
        ).values_list("worker_id", "day", "temperature")
    }
    profiles: dict[int, Profile] = {}
    for worker in workers:
        baseline = baselines.get(worker.pk)
        profiles[worker.pk] = Profile(
            age=max(16, now.year - worker.birth_year),
            acclimatized=worker.acclimatized,
            on_shift=worker_on_shift(worker, now, scheduled=scheduled[worker.pk]),
            rest_hr_baseline=baseline.rest_hr_median if baseline else None,
            rest_hr_spread=baseline.rest_hr_spread if baseline else None,
            checkin_temperature=temperatures.get((worker.pk, days[worker.pk])),
        )
    return profiles


def thresholds_for_sites(site_ids: set[int]) -> dict[int, Thresholds]:
    """``thresholds_for`` for several sites, in one query."""
    overrides = dict(SiteThresholds.objects.filter(site_id__in=site_ids).values_list("site_id", "overrides"))
    return {
        site_id: DEFAULTS.with_overrides(overrides[site_id]) if overrides.get(site_id) else DEFAULTS
        for site_id in site_ids
    }


def checkin_temperature_today(worker: Worker, now: datetime) -> float | None:
    day = now.astimezone(ZoneInfo(worker.site.timezone)).date()
    return CheckIn.objects.filter(worker=worker, day=day).values_list("temperature", flat=True).first()


def alerts_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Alert]:
    """Alerts of the workers whose health data ``user`` may read."""
    return Alert.objects.filter(worker__in=workers_health_visible_to(user))


# --- First responders ------------------------------------------------------------

RESPONDER_KINDS = ("sos", "fall")
RESPONDER_RECENT = timedelta(hours=12)


def alerts_for_responder(user: AbstractBaseUser | AnonymousUser, now: datetime | None = None) -> QuerySet[Alert]:
    """SOS and fall alerts at the sites where ``user`` is a safety officer:
    the unresolved ones and those resolved in the last 12 hours. A responder
    sees who, where and what kind, never readings or the alert's evidence:
    callers show only those fields."""
    from django.db.models import Q
    from django.utils import timezone

    from workers.models import StaffRole
    from workers.roles import sites_for_role

    now = now or timezone.now()
    sites = sites_for_role(user, StaffRole.SAFETY_OFFICER)
    recent = Q(resolved_at__isnull=True) | Q(resolved_at__gte=now - RESPONDER_RECENT)
    return Alert.objects.filter(recent, worker__site__in=sites, kind__in=RESPONDER_KINDS)


def snoozes_active(worker_ids: list[int], now: datetime) -> list:
    """The snoozes in force for these workers, soonest to end first."""
    from alerts.models import Snooze

    return list(Snooze.objects.filter(worker_id__in=worker_ids, until__gt=now).select_related("by").order_by("until"))


# What an alert's history tells its worker: what happened and when, the
# severity change, and the notes their clinicians chose to share. Private
# notes (the default) and whom an escalation went to are for the site's
# clinicians only.
WORKER_EVENT_DETAIL = ("severity", "previous")


def alert_events_for(user: AbstractBaseUser, alert: Alert) -> list[dict]:
    """The alert's events as ``user`` may see them. The caller has checked
    that ``user`` may see the alert (alerts_visible_to): the worker it is
    about, or a clinician of the worker's site. The worker gets only the
    notes shared with them; anyone else here is a clinician and gets all."""
    events = alert.events.select_related("by")
    if alert.worker.user_id != user.pk:
        return [
            {
                "at": e.at,
                "action": e.action,
                "by": e.by.username if e.by else None,
                "detail": e.detail,
                "shared": e.shared_with_worker,
            }
            for e in events
        ]
    visible = []
    for e in events:
        if e.action == AlertEvent.Action.NOTE and not e.shared_with_worker:
            continue
        if e.action == AlertEvent.Action.STEP:
            continue  # the chain's steps are whom the staff paged: the clinicians' business
        detail = {key: e.detail[key] for key in WORKER_EVENT_DETAIL if key in e.detail}
        if e.shared_with_worker and e.detail.get("note"):
            detail["note"] = e.detail["note"]
        visible.append(
            {
                "at": e.at,
                "action": e.action,
                "by": e.by.username if e.by else None,
                "detail": detail,
                "shared": e.shared_with_worker,
            }
        )
    return visible
