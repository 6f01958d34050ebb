"""Writes of the insights app: recording outbreak signals, and the
snapshots of closed periods that HR pages read."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from alerts.notify.selectors import preference_of
from alerts.notify.services import push_to_devices
from healthhub.live import group_send_now, worker_group
from insights.models import ClusterSignal, PeriodKind, PeriodSnapshot, SiteNotice
from insights.outbreak import BASELINE_DAYS, GUARD_DAYS, ears_c2
from insights.selectors import closed_days, closed_weeks, daily_counts, day_signal_groups, k_threshold, week_figures
from insights.suppression import publish_signals
from workers.models import Site, Worker

# Enough history for the baseline, and to re-judge a few recent days.
LOOKBACK_DAYS = BASELINE_DAYS + GUARD_DAYS + 7


@transaction.atomic
def signals_detect(*, site: Site, today: date | None = None) -> list[ClusterSignal]:
    """Run the detector over the site's and each department's daily fever
    and symptomatic counts up to ``today`` and record the days that signal.
    Idempotent: a day already recorded is updated, not duplicated, and a day
    that no longer signals (late check-ins changed its baseline) is removed."""
    today = today or datetime.now(ZoneInfo(site.timezone)).date()
    start = today - timedelta(days=LOOKBACK_DAYS - 1)
    days = [start + timedelta(days=i) for i in range(LOOKBACK_DAYS)]
    counts = daily_counts(site, start, today + timedelta(days=1))
    groups = {(None, kind) for kind in ("fever", "symptomatic")} | set(counts)
    recorded = []
    judged = days[BASELINE_DAYS + GUARD_DAYS :]
    for department_id, kind in groups:
        per_day = counts.get((department_id, kind), {})
        results = ears_c2(days, [len(per_day.get(day, ())) for day in days])
        for result in results:
            if result.day not in judged:
                continue
            existing = ClusterSignal.objects.filter(site=site, department_id=department_id, kind=kind, day=result.day)
            if result.signal:
                signal, _ = ClusterSignal.objects.update_or_create(
                    site=site,
                    department_id=department_id,
                    kind=kind,
                    day=result.day,
                    defaults={"count": result.count, "expected": result.expected, "c2": result.c2},
                )
                recorded.append(signal)
            else:
                existing.delete()
    notices_post(site=site, days={signal.day for signal in recorded}, today=today)
    return recorded


# A notice is shown this many days from its signal's day.
NOTICE_DAYS = 7


def notice_payload(notice: SiteNotice) -> dict:
    """What a worker's page gets of a notice: nothing about anyone."""
    return {"id": notice.pk, "day": notice.day.isoformat(), "expires_at": notice.expires_at.isoformat()}


def notices_post(*, site: Site, days: set[date], today: date, now: datetime | None = None) -> list[SiteNotice]:
    """Post one notice to the site's workers for each of these signal days
    still within its showing period, unless that day's notice exists (a
    signal re-judged on the next run, or by a second worker, posts nothing).
    A new notice is pushed to each worker's open portal after the commit.
    The notice says only that more illness than usual is going round the
    site: which department, how many and who stay with the clinicians."""
    now = now or timezone.now()
    tz = ZoneInfo(site.timezone)
    posted = []
    for day in sorted(days):
        if day + timedelta(days=NOTICE_DAYS) <= today:
            continue
        expires_at = datetime.combine(day + timedelta(days=NOTICE_DAYS), datetime.min.time(), tzinfo=tz)
        if expires_at <= now:
            continue
        notice, created = SiteNotice.objects.get_or_create(
            site=site, day=day, defaults={"posted_at": now, "expires_at": expires_at}
        )
        if created:
            posted.append(notice)
    if posted:
        worker_ids = list(Worker.objects.filter(site=site).values_list("pk", flat=True))
        events = [{"type": "notice.posted", "notice": notice_payload(notice)} for notice in posted]

        def push() -> None:
            for worker_id in worker_ids:
                for event in events:
                    group_send_now(worker_group(worker_id), event)

        transaction.on_commit(push)
        from insights.tasks import push_notice  # the task module imports this one

        for notice in posted:
            transaction.on_commit(lambda pk=notice.pk: push_notice.delay(pk))
    return posted


def notice_push(*, notice_id: int, now: datetime | None = None) -> int:
    """Web Push a notice to each worker of its site who has a device
    subscribed, in the worker's language, with lock-screen text that names
    no illness (alerts.notify.services.push_to_devices: best effort, never in
    quiet hours). Returns how many devices took it."""
    notice = SiteNotice.objects.select_related("site").get(pk=notice_id)
    delivered = 0
    for worker in Worker.objects.filter(site=notice.site).select_related("user"):
        with translation.override(preference_of(worker.user).language):
            payload = {
                "title": "healthhub",
                "body": gettext("A health notice for your site: open the app to see what to do."),
                "url": reverse("portal:today"),
                "tag": f"notice-{notice.pk}",
            }
        delivered += push_to_devices(user=worker.user, payload=payload, now=now)
    return delivered


@transaction.atomic
def snapshots_take(
    *, site: Site, now: datetime | None = None, weeks: int | None = None, days: int | None = None, rebuild: bool = False
) -> list[PeriodSnapshot]:
    """Store what HR may see of every closed day and ISO week of the site
    (within the back-fill window) that has no snapshot yet: the day's
    published outbreak signals, the week's published tables.

    A snapshot, once taken, is never changed (late data stays out of it), so
    HR never sees a figure move. ``rebuild`` replaces existing snapshots:
    for the demo's seeded history only. Safe to run from several workers at
    once: a period already taken by another is skipped."""
    now = now or timezone.now()
    weeks = settings.INSIGHTS["SNAPSHOT_WEEKS"] if weeks is None else weeks
    days = settings.INSIGHTS["SNAPSHOT_DAYS"] if days is None else days
    k = k_threshold()
    wanted = [(PeriodKind.WEEK, monday) for monday in closed_weeks(site, weeks, now)]
    wanted += [(PeriodKind.DAY, day) for day in closed_days(site, days, now)]
    if not wanted:
        return []
    existing = PeriodSnapshot.objects.filter(site=site, start__gte=min(start for _, start in wanted))
    if rebuild:
        for kind in (PeriodKind.WEEK, PeriodKind.DAY):
            existing.filter(kind=kind, start__in=[start for k_, start in wanted if k_ == kind]).delete()
    taken = set(existing.values_list("kind", "start")) if not rebuild else set()
    departments = {str(pk): name for pk, name in site.departments.values_list("pk", "name")}
    made = []
    for kind, start in wanted:
        if (kind, start) in taken:
            continue
        if kind == PeriodKind.WEEK:
            data = week_figures(site, start, now)
        else:
            signals = publish_signals(day_signal_groups(site, start), k)
            data = {
                "signals": [
                    {
                        "where": departments.get(str(s.department), "") if s.department is not None else "",
                        "kind": s.kind,
                        "count": s.count,
                        "expected": s.expected,
                    }
                    for s in signals
                ]
            }
        made.append(PeriodSnapshot(site=site, kind=kind, start=start, k=k, data=data, taken_at=now))
    PeriodSnapshot.objects.bulk_create(made, ignore_conflicts=True)
    return made
