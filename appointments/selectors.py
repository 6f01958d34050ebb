"""Reads of appointments: the free slots of a site, who may see an
appointment, and a clinician's calendar feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from appointments.models import Appointment, AppointmentStatus, Availability, AvailabilityException, Mode
from workers.models import Shift, ShiftPattern, Site, StaffRole, Worker
from workers.roles import sites_for_role, worker_of


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # aware
    ends_at: datetime
    clinician_id: int
    mode: str


Window = tuple[datetime, datetime, int, str]  # start, end, slot minutes, mode


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    # A wall time in the site's zone, as an instant in UTC: slots are then
    # stepped in real time (aware arithmetic in a zone with daylight saving
    # steps in wall time and lands on hours that do not exist). Asia/Seoul has
    # no daylight saving today; other sites may.
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _span(day: date, starts: time, ends: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    end_day = day + timedelta(days=1) if ends <= starts else day
    return _at(day, starts, tz), _at(end_day, ends, tz)


def _subtract(windows: list[Window], gap: tuple[datetime, datetime]) -> list[Window]:
    out = []
    for start, end, minutes, mode in windows:
        if gap[1] <= start or gap[0] >= end:
            out.append((start, end, minutes, mode))
            continue
        if start < gap[0]:
            out.append((start, gap[0], minutes, mode))
        if gap[1] < end:
            out.append((gap[1], end, minutes, mode))
    return out


def clinician_windows(*, site: Site, first_day: date, last_day: date) -> dict[int, list[Window]]:
    """Each clinician's bookable windows at ``site`` that start on local days
    ``first_day``..``last_day`` (the weekly hours, less days away, plus extra
    hours)."""
    tz = ZoneInfo(site.timezone)
    windows: dict[int, list[Window]] = {}
    weekly = list(Availability.objects.filter(site=site))
    exceptions = list(AvailabilityException.objects.filter(site=site, day__gte=first_day, day__lte=last_day))
    day = first_day
    while day <= last_day:
        for rule in weekly:
            if rule.weekday == day.weekday():
                start, end = _span(day, rule.starts, rule.ends, tz)
                windows.setdefault(rule.clinician_id, []).append((start, end, rule.slot_minutes, rule.mode))
        day += timedelta(days=1)
    for exc in exceptions:
        if exc.available:
            start, end = _span(exc.day, exc.starts, exc.ends, tz)
            windows.setdefault(exc.clinician_id, []).append((start, end, exc.slot_minutes, exc.mode))
    for exc in exceptions:
        if not exc.available and exc.clinician_id in windows:
            if exc.starts is None or exc.ends is None:
                gap = (_at(exc.day, time.min, tz), _at(exc.day + timedelta(days=1), time.min, tz))
            else:
                gap = _span(exc.day, exc.starts, exc.ends, tz)
            windows[exc.clinician_id] = _subtract(windows[exc.clinician_id], gap)
    return windows


def open_slots(*, site: Site, start: datetime, end: datetime, now: datetime, lead_minutes: int = 0) -> list[Slot]:
    """Free slots at ``site`` starting in [start, end), not before
    ``now`` + ``lead_minutes``, for clinicians who still hold the clinician
    role there, each at most once per clinician and time, in time order."""
    tz = ZoneInfo(site.timezone)
    # Windows that start the day before may run past midnight into range.
    first_day = start.astimezone(tz).date() - timedelta(days=1)
    last_day = end.astimezone(tz).date()
    windows = clinician_windows(site=site, first_day=first_day, last_day=last_day)
    clinicians = set(
        Site.objects.filter(pk=site.pk, staff__role=StaffRole.CLINICIAN).values_list("staff__user_id", flat=True)
    )
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    for clinician_id, s, e in Appointment.objects.filter(
        clinician_id__in=windows, status=AppointmentStatus.BOOKED, starts_at__lt=end + timedelta(hours=4),
        ends_at__gt=start,
    ).values_list("clinician_id", "starts_at", "ends_at"):  # fmt: skip
        busy.setdefault(clinician_id, []).append((s, e))
    earliest = max(start, now + timedelta(minutes=lead_minutes))
    slots = set()
    for clinician_id, spans in windows.items():
        if clinician_id not in clinicians:
            continue
        for w_start, w_end, minutes, mode in spans:
            step = timedelta(minutes=minutes)
            at = w_start
            while at + step <= w_end:
                if earliest <= at < end and not any(
                    b0 < at + step and b1 > at for b0, b1 in busy.get(clinician_id, [])
                ):
                    slots.add(Slot(at, at + step, clinician_id, mode))
                at += step
    return sorted(slots, key=lambda s: (s.starts_at, s.mode, s.clinician_id))


@dataclass(frozen=True)
class Offer:
    """A time a worker may book: one entry however many clinicians are free."""

    starts_at: datetime
    ends_at: datetime
    mode: str
    night: bool  # 22:00-06:00 local
    during_shift: bool  # overlaps one of the worker's scheduled shifts

    def get_mode_label(self) -> str:
        return str(Mode(self.mode).label)


def offers_for(*, worker: Worker, now: datetime, days: int, lead_minutes: int, show_all: bool) -> list[Offer]:
    """The times ``worker`` can book in the coming ``days``. A worker on day
    shifts is not offered the night (unless ``show_all``); every offer says
    whether it falls in one of the worker's scheduled shifts."""
    site = worker.site
    tz = ZoneInfo(site.timezone)
    slots = open_slots(site=site, start=now, end=now + timedelta(days=days), now=now, lead_minutes=lead_minutes)
    shifts = list(
        Shift.objects.filter(worker=worker, ends_at__gt=now, starts_at__lt=now + timedelta(days=days)).values_list(
            "starts_at", "ends_at"
        )
    )
    seen = set()
    offers = []
    for slot in slots:
        key = (slot.starts_at, slot.mode)
        if key in seen:
            continue
        seen.add(key)
        hour = slot.starts_at.astimezone(tz).hour
        night = hour >= 22 or hour < 6
        if night and worker.shift_pattern == ShiftPattern.DAY and not show_all:
            continue
        during = any(s < slot.ends_at and e > slot.starts_at for s, e in shifts)
        offers.append(Offer(slot.starts_at, slot.ends_at, slot.mode, night, during))
    return offers


def side_of(user: AbstractBaseUser | AnonymousUser, appointment: Appointment) -> str | None:
    """ "worker" for the appointment's worker, "clinician" for a clinician of
    its site, None for anyone else."""
    me = worker_of(user)
    if me is not None and me.pk == appointment.worker_id:
        return "worker"
    if sites_for_role(user, StaffRole.CLINICIAN).filter(pk=appointment.site_id).exists():
        return "clinician"
    return None


def appointments_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Appointment]:
    """The one query for who may see appointments: the worker their own,
    clinicians those of their sites, everyone else none."""
    qs = Appointment.objects.select_related("worker__user", "site")
    me = worker_of(user)
    if me is not None:
        return qs.filter(worker=me)
    return qs.filter(site__in=sites_for_role(user, StaffRole.CLINICIAN))
