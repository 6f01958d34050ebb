"""``manage.py seed_history``: past weeks for the demo's HR pages and
outbreak detector: shifts, daily check-ins, a few resolved alerts, a
heart-rate reading every half hour of each shift from the worker's wearable
(so that past weeks count as monitored), and, with --outbreak, a fever
cluster in one department yesterday (a closed day, so HR sees it too); then
the HR snapshots of the closed days and weeks are rebuilt.

Demo only. Idempotent: history rows it made before are replaced (check-ins
and alerts by day and worker, shifts by time), and nothing is written for
today or later except the injected cluster's check-ins.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from alerts.models import Alert, AlertStatus
from devices.models import Device, Reading
from insights.services import signals_detect, snapshots_take
from simulation.management.commands.seed_demo import WORKER_LOGIN
from simulation.physiology import shift_on
from workers.models import CheckIn, Shift, Site, Worker

HISTORY_KINDS = [
    ("heat_strain", "warning"),
    ("low_battery", "info"),
    ("rest_overdue", "info"),
    ("hypoxemia", "warning"),
]


class Command(BaseCommand):
    help = "Demo only: weeks of past shifts, check-ins and alerts, and optionally a fever cluster today."

    def add_arguments(self, parser):
        parser.add_argument("--site", default="gumi-1")
        parser.add_argument("--weeks", type=int, default=6)
        parser.add_argument("--outbreak", action="store_true", help="inject a fever cluster in one department today")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--readings-workers",
            type=int,
            default=5,
            help="workers (the demo worker first) given wearable readings for the past weeks, so that the "
            "week and month charts have data (default 5; 0: none)",
        )

    @transaction.atomic
    def handle(self, *args, site: str, weeks: int, outbreak: bool, seed: int, readings_workers: int = 5, **options):
        site_obj = Site.objects.filter(code=site).first()
        if site_obj is None:
            raise CommandError(f"no site {site!r}: run manage.py seed_demo first")
        tz = ZoneInfo(site_obj.timezone)
        rng = random.Random(seed)
        today = datetime.now(tz).date()
        first = today - timedelta(weeks=weeks)
        workers = list(Worker.objects.filter(site=site_obj).order_by("pk"))
        start_of = datetime.combine(first, time.min, tzinfo=tz)
        end_of = datetime.combine(today - timedelta(days=1), time.min, tzinfo=tz)
        Shift.objects.filter(worker__site=site_obj, starts_at__gte=start_of, starts_at__lt=end_of).delete()
        CheckIn.objects.filter(worker__site=site_obj, day__gte=first, day__lt=today).delete()
        Alert.objects.filter(worker__site=site_obj, opened_at__gte=start_of, opened_at__lt=end_of).delete()
        device_of = dict(Device.objects.filter(worker__site=site_obj).values_list("worker_id", "pk"))
        shifts, checkins, alerts, readings = [], [], [], []
        for index, worker in enumerate(workers):
            crew = index % 3
            day = first
            while day < today - timedelta(days=1):
                span = shift_on(worker.shift_pattern, crew, day, tz)
                if span is not None:
                    shifts.append(Shift(worker=worker, starts_at=span[0], ends_at=span[1]))
                    at = span[0]
                    while worker.pk in device_of and at < span[1]:
                        value = round(rng.gauss(78, 8))
                        readings.append(
                            Reading(
                                device_id=device_of[worker.pk], worker=worker, metric="heart_rate", value=value,
                                measured_at=at, received_at=at,
                            )
                        )  # fmt: skip
                        at += timedelta(minutes=30)
                    if rng.random() < 0.8:  # most workers check in most days
                        fever = rng.random() < 0.01
                        checkins.append(
                            CheckIn(
                                worker=worker,
                                day=day,
                                temperature=round(rng.uniform(37.6, 38.4) if fever else rng.gauss(36.6, 0.2), 1),
                                fever=fever,
                                cough=rng.random() < 0.03,
                                fatigue=rng.random() < 0.05,
                                submitted_at=span[0],
                            )
                        )
                    if rng.random() < 0.04:
                        kind, severity = rng.choice(HISTORY_KINDS)
                        opened = span[0] + timedelta(hours=rng.uniform(1, 7))
                        closed = opened + timedelta(minutes=rng.uniform(10, 50))
                        alerts.append(
                            Alert(
                                worker=worker, kind=kind, severity=severity, status=AlertStatus.RESOLVED,
                                message="", evidence={"demo_history": True}, opened_at=opened, updated_at=closed,
                                resolved_at=closed, auto_resolved=True,
                            )
                        )  # fmt: skip
                day += timedelta(days=1)
        Shift.objects.bulk_create(shifts)
        Reading.objects.bulk_create(readings, ignore_conflicts=True)
        CheckIn.objects.bulk_create(checkins)
        for alert in alerts:
            alert.save()  # save() sets the severity rank
        message = f"History: {len(shifts)} shifts, {len(checkins)} check-ins, {len(alerts)} alerts over {weeks} weeks."
        if outbreak:
            department = max(site_obj.departments.all(), key=lambda d: d.workers.count())
            # Not the demo worker: their first screen would say "you may have
            # a fever" beside a live, normal temperature from their wearable.
            sick = list(department.workers.exclude(user__username=WORKER_LOGIN.username).order_by("pk")[:6])
            yesterday = today - timedelta(days=1)
            for worker in sick:
                CheckIn.objects.update_or_create(
                    worker=worker,
                    day=yesterday,
                    defaults={
                        "temperature": 38.2,
                        "fever": True,
                        "cough": True,
                        "submitted_at": datetime.combine(yesterday, time(7, 30), tzinfo=tz),
                    },
                )
            message += f" Fever cluster yesterday: {len(sick)} workers of {department.name}."
        signals = signals_detect(site=site_obj, today=today)
        # The history was just rewritten: its snapshots are rebuilt (demo only;
        # in production a snapshot is never replaced).
        snapshots = snapshots_take(site=site_obj, rebuild=True)
        stored = readings_history(site_obj, weeks=weeks, workers=readings_workers, seed=seed)
        self.stdout.write(
            f"{message} Cluster signals: {len(signals)}. HR snapshots: {len(snapshots)}. Past readings: {stored}."
        )


# Past readings every 30 minutes: the week chart's and the month chart's
# buckets (30 min, 2 h) each get a point, for a few thousand rows a worker a week.
HISTORY_STEP = timedelta(minutes=30)


def readings_history(site: Site, *, weeks: int, workers: int, seed: int) -> int:
    """Wearable readings from the simulator's physiology for the first
    ``workers`` workers of ``site`` (the demo worker first) over the past
    ``weeks``, up to an hour ago (the live simulator takes over from there).
    Stored as the ingestion stores them, idempotently; no alerts are
    evaluated for the past."""
    from devices.models import Device
    from devices.protocol import ValidReading
    from devices.services import readings_store
    from simulation.physiology import Physiology, WorkerProfile

    if workers <= 0:
        return 0
    tz = ZoneInfo(site.timezone)
    now = datetime.now(tz)
    chosen = sorted(
        Worker.objects.filter(site=site).select_related("user"),
        key=lambda w: (w.user.username != WORKER_LOGIN.username, w.pk),
    )[:workers]
    devices = {d.worker_id: d for d in Device.objects.filter(worker__in=chosen)}
    total = 0
    for worker in chosen:
        device = devices.get(worker.pk)
        if device is None:
            continue
        rng = random.Random(f"{seed}-{worker.employee_number}")
        profile = WorkerProfile.random(rng, age=now.year - worker.birth_year, shift_pattern=worker.shift_pattern)
        body = Physiology(profile, rng, tz=tz, slow_every=timedelta(0))
        at, end, batch = now - timedelta(weeks=weeks), now - timedelta(hours=1), []
        while at < end:
            batch.extend(
                ValidReading(index=len(batch), metric=metric, value=float(value), at=at)
                for metric, value in body.sample(at).values.items()
                if metric not in ("sos", "fall")
            )
            at += HISTORY_STEP
        for start in range(0, len(batch), 2000):
            result = readings_store(
                device_id=device.pk,
                worker_id=worker.pk,
                readings=batch[start : start + 2000],
                received_at=now,
                touch=False,
            )
            total += result.accepted
    return total
