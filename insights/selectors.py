"""Aggregates for HR and programme managers, and the daily counts behind
the outbreak signal.

Two kinds of read live here. The figures of a closed period (``week_figures``,
``day_signal_groups``) read the live tables, pass through
insights.suppression and are stored once as a PeriodSnapshot by
insights.services. What HR pages show (``hr_tables``, ``hr_signals``) is read
from those snapshots only, never from live rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert
from devices.models import Reading, ReadingMinute
from insights.models import PeriodKind, PeriodSnapshot, SiteNotice
from insights.outbreak import BASELINE_DAYS, GUARD_DAYS, ears_c2
from insights.suppression import HR_MARGINS, GroupDay, Table, suppress
from workers.models import CheckIn, Shift, ShiftPattern, Site, StaffRole, Worker
from workers.roles import sites_for_role


def insight_sites(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    """Sites whose aggregates ``user`` may see: HR and clinicians of the site."""
    ids = [
        *sites_for_role(user, StaffRole.HR).values_list("pk", flat=True),
        *sites_for_role(user, StaffRole.CLINICIAN).values_list("pk", flat=True),
    ]
    return Site.objects.filter(pk__in=ids)


def is_site_clinician(user: AbstractBaseUser | AnonymousUser, site: Site) -> bool:
    return sites_for_role(user, StaffRole.CLINICIAN).filter(pk=site.pk).exists()


def k_threshold() -> int:
    return settings.INSIGHTS["K"]


# --- Closed periods -----------------------------------------------------------------


def last_closed_day(site: Site, now: datetime | None = None) -> date:
    """The latest day of the site (in its time zone) that has ended at least
    the grace period ago (late check-ins and alerts of the day are in)."""
    now = now or timezone.now()
    grace = timedelta(minutes=settings.INSIGHTS["SNAPSHOT_GRACE_MINUTES"])
    return (now - grace).astimezone(ZoneInfo(site.timezone)).date() - timedelta(days=1)


def closed_weeks(site: Site, count: int, now: datetime | None = None) -> list[date]:
    """The Mondays of the ``count`` latest closed ISO weeks, oldest first."""
    day = last_closed_day(site, now)
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    last_monday = sunday - timedelta(days=6)
    return [last_monday - timedelta(weeks=i) for i in reversed(range(count))]


def closed_days(site: Site, count: int, now: datetime | None = None) -> list[date]:
    day = last_closed_day(site, now)
    return [day - timedelta(days=i) for i in reversed(range(count))]


# --- The tables: one closed week, computed once -----------------------------------

GROUPINGS = {
    "department": ("department_id", _("Department")),
    "shift": ("shift_pattern", _("Shift pattern")),
}


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    unit: str
    rows: str  # "groups" (the grouping's rows), "kinds" or "outcomes" (site-wide)
    # For rates: what a cell is divided by ("shifts" or "checkins"); None for counts.
    per: str | None = None
    # Whether the homogeneity rule applies: a health event where "all but a
    # few of the group had it" says something about everyone.
    health: bool = False


TABLES = [
    TableSpec("participation", _("Workers monitored"), _("workers"), "groups"),
    TableSpec("worker_shifts", _("Worker-shifts"), _("shifts"), "groups"),
    TableSpec("alerts", _("Alerts per 100 worker-shifts"), _("per 100 shifts"), "groups", "shifts", True),
    TableSpec(
        "alerts_by_kind",
        _("Alerts per 100 worker-shifts, by kind and severity"),
        _("per 100 shifts"),
        "kinds",
        "shifts",
        True,
    ),
    TableSpec("heat_minutes", _("Heat-strain minutes"), _("minutes"), "groups", None, True),
    TableSpec("checkins", _("Check-ins per 100 worker-shifts"), _("per 100 shifts"), "groups", "shifts"),
    TableSpec("consultations", _("Consultations requested"), _("consultations"), "groups", None, True),
    TableSpec("outcomes", _("Consultation outcomes"), _("consultations"), "outcomes", None, True),
    TableSpec("symptomatic", _("Check-ins with symptoms, per 100 check-ins"), _("per 100"), "groups", "checkins", True),
]

HIDDEN = "hidden"  # shown as "—"
UNDEFINED = "undefined"  # a rate with nothing to divide by, shown as "·"


@dataclass
class _WeekRows:
    """The week's live rows that the tables count, read once for both groupings."""

    members: dict[int, tuple[int, str]]  # worker -> (department, shift pattern)
    shifts: list[int]  # a worker per shift
    monitored: set[int]
    alerts: list[tuple[int, str, str, float]]  # worker, kind, severity, heat-strain minutes
    checkins: list[tuple[int, bool]]  # worker, with symptoms
    consultations: list[tuple[int, str]]  # worker, outcome ("" while open)


def _week_rows(site: Site, monday: date, now: datetime) -> _WeekRows:
    tz = ZoneInfo(site.timezone)
    start = datetime.combine(monday, time.min, tzinfo=tz)
    end = start + timedelta(days=7)
    members = {
        pk: (dept, pattern) for pk, dept, pattern in site.workers.values_list("pk", "department_id", "shift_pattern")
    }
    shifts = list(
        Shift.objects.filter(worker__site=site, starts_at__gte=start, starts_at__lt=end).values_list(
            "worker_id", flat=True
        )
    )
    # A worker is monitored in a week when their wearable sent anything: raw
    # readings, or the per-minute summaries that replace them after retention.
    # One EXISTS per worker uses the (worker, metric, time) keys, not a scan.
    workers = Worker.objects.filter(site=site)
    readings = Reading.objects.filter(worker=OuterRef("pk"), measured_at__gte=start, measured_at__lt=end)
    minutes = ReadingMinute.objects.filter(worker=OuterRef("pk"), minute__gte=start, minute__lt=end)
    monitored = set(workers.filter(Exists(readings) | Exists(minutes)).values_list("pk", flat=True))
    alerts = []
    for worker_id, kind, severity, opened, resolved in Alert.objects.filter(
        worker__site=site, opened_at__gte=start, opened_at__lt=end
    ).values_list("worker_id", "kind", "severity", "opened_at", "resolved_at"):
        minutes_open = ((resolved or now) - opened).total_seconds() / 60 if kind == "heat_strain" else 0.0
        alerts.append((worker_id, kind, severity, round(minutes_open)))
    checkins = [
        (worker_id, any(flags))
        for worker_id, *flags in CheckIn.objects.filter(
            worker__site=site, day__gte=monday, day__lt=monday + timedelta(days=7)
        ).values_list("worker_id", *CheckIn.SYMPTOMS)
    ]
    from consultations.models import Consultation

    consultations = list(
        Consultation.objects.filter(worker__site=site, requested_at__gte=start, requested_at__lt=end).values_list(
            "worker_id", "outcome"
        )
    )
    return _WeekRows(members, shifts, monitored, alerts, checkins, consultations)


def week_figures(site: Site, monday: date, now: datetime | None = None) -> dict:
    """What HR may see of the week starting ``monday``, for both groupings:
    every table's published cells and its total, suppressed with the week's
    total as the only published margin (the HR pages and CSV files show no row
    totals), hidden values not included. Reads live rows: only the snapshot
    service calls it, once the week has closed."""
    now = now or timezone.now()
    k = k_threshold()
    week = _week_rows(site, monday, now)
    everyone = frozenset(week.members)
    out: dict = {"groupings": {}}
    for grouping in GROUPINGS:
        position = 0 if grouping == "department" else 1
        row_of = {worker: str(member[position]) for worker, member in week.members.items()}
        group_members: dict[str, set[int]] = defaultdict(set)
        for worker, row in row_of.items():
            group_members[row].add(worker)
        if grouping == "department":
            labels = {str(pk): name for pk, name in site.departments.values_list("pk", "name")}
        else:
            labels = {value: value for value in ShiftPattern.values}
        groups = [row for row in labels if row in group_members]
        small = [row for row in groups if len(group_members[row]) < k]

        shifts_per: dict[str, float] = defaultdict(float)
        for worker in week.shifts:
            shifts_per[row_of[worker]] += 1
        checkins_per: dict[str, float] = defaultdict(float)
        checked_in: dict[str, set[int]] = defaultdict(set)
        for worker, _symptomatic in week.checkins:
            checkins_per[row_of[worker]] += 1
            checked_in[row_of[worker]].add(worker)

        records: dict[str, list[tuple]] = {
            "participation": [(row_of[w], w, 1.0) for w in week.monitored],
            "worker_shifts": [(row_of[w], w, 1.0) for w in week.shifts],
            "alerts": [(row_of[w], w, 1.0) for w, *_rest in week.alerts],
            "alerts_by_kind": [(f"{kind}/{severity}", w, 1.0) for w, kind, severity, _m in week.alerts],
            "heat_minutes": [(row_of[w], w, minutes) for w, kind, _s, minutes in week.alerts if kind == "heat_strain"],
            "checkins": [(row_of[w], w, 1.0) for w, _s in week.checkins],
            "consultations": [(row_of[w], w, 1.0) for w, _o in week.consultations],
            "outcomes": [(outcome, w, 1.0) for w, outcome in week.consultations if outcome],
            "symptomatic": [(row_of[w], w, 1.0) for w, symptomatic in week.checkins if symptomatic],
        }
        tables = {}
        for spec in TABLES:
            if spec.rows == "groups":
                rows, small_rows = groups, small
            else:
                rows, small_rows = sorted({r[0] for r in records[spec.key]}), []
            populations = None
            if spec.health:
                if spec.key == "symptomatic":  # the group is who checked in
                    populations = {(row, monday): frozenset(checked_in.get(row, ())) for row in rows}
                elif spec.rows == "groups":
                    populations = {(row, monday): frozenset(group_members[row]) for row in rows}
                else:
                    populations = {(row, monday): everyone for row in rows}
            table = Table.from_records(
                [(row, monday, worker, value) for row, worker, value in records[spec.key]], rows, [monday], populations
            )
            suppress(table, k, small_rows=small_rows, shown=HR_MARGINS)

            per = {"shifts": shifts_per, "checkins": checkins_per}.get(spec.per or "")

            tables[spec.key] = {
                "rows": rows,
                "cells": {row: _published(table.cells[(row, monday)], _denominator(spec, per, row)) for row in rows},
                "total": _published(table.column_totals[monday], _denominator(spec, per, None)),
            }
        out["groupings"][grouping] = {
            "labels": {row: labels[row] for row in groups} if grouping == "department" else {},
            "tables": tables,
        }
    return out


def _denominator(spec: TableSpec, per: dict[str, float] | None, row: str | None) -> float | None:
    """What a rate's cell is divided by: the row's shifts or check-ins, and
    the site's for the total and for site-wide rows (kinds, outcomes)."""
    if per is None:
        return None
    if row is None or spec.rows != "groups":
        return sum(per.values())
    return per.get(row, 0.0)


def _published(cell, denominator: float | None) -> float | str:
    if cell.hidden:
        return HIDDEN
    if denominator is None:
        return cell.value
    if not denominator:
        return UNDEFINED
    return round(100 * cell.value / denominator, 1)


# --- The tables as HR sees them: read from snapshots --------------------------------


@dataclass
class MetricTable:
    key: str
    title: str
    unit: str
    rows: list[str]
    row_labels: dict[str, str]
    columns: list[date]
    values: dict[tuple[str | None, date], float | str]  # (row or None for the total, week) -> published

    @property
    def rendered(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(row label, [(shown text, CSS class)]) per row, then the totals row
        (built here rather than in the template: 52 weeks of nine tables are
        thousands of cells)."""
        css = {"—": "suppressed", "·": "undefined"}

        def line(row: str | None) -> list[tuple[str, str]]:
            return [(text, css.get(text, "")) for text in (self.shown(row, c) for c in self.columns)]

        out = [(self.row_labels.get(row, str(row)), line(row)) for row in self.rows]
        out.append((str(_("Total")), line(None)))
        return out

    def shown(self, row: Hashable | None, column: date) -> str:
        value = self.values.get((None if row is None else str(row), column))
        if value is None:
            return ""  # no snapshot of that week (yet), or the group did not exist then
        if value == HIDDEN:
            return "—"
        if value == UNDEFINED:
            return "·"
        return f"{value:g}"


def _row_label(spec: TableSpec, grouping: str, row: str, department_names: dict[str, str]) -> str:
    if spec.rows == "kinds":
        from alerts.models import AlertKind, Severity

        kind, severity = row.split("/")
        return f"{_choice_label(AlertKind, kind)} · {_choice_label(Severity, severity)}"
    if spec.rows == "outcomes":
        from consultations.models import Outcome

        return _choice_label(Outcome, row)
    if grouping == "department":
        return department_names.get(row, row)
    return _choice_label(ShiftPattern, row)


def _choice_label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value no longer offered: its code is the best label left
        return value


def hr_tables(site: Site, grouping: str = "department", weeks: int = 8, now: datetime | None = None) -> dict:
    """Every HR table for the site over the ``weeks`` latest closed weeks,
    from their snapshots only. A week without a snapshot yet is listed in
    ``pending`` and its column is empty."""
    mondays = closed_weeks(site, weeks, now)
    snapshots = {
        s.start: s.data
        for s in PeriodSnapshot.objects.filter(site=site, kind=PeriodKind.WEEK, start__in=mondays).only("start", "data")
    }
    department_names: dict[str, str] = {}
    for monday in mondays:  # the latest name of a department wins
        if monday in snapshots:
            department_names.update(snapshots[monday]["groupings"][grouping]["labels"])
    tables = []
    for spec in TABLES:
        rows: dict[str, None] = {}
        values: dict[tuple[str | None, date], float | str] = {}
        for monday in mondays:
            data = snapshots.get(monday)
            if data is None:
                continue
            table = data["groupings"][grouping]["tables"][spec.key]
            for row in table["rows"]:
                rows[row] = None
                values[(row, monday)] = table["cells"][row]
            values[(None, monday)] = table["total"]
        ordered = list(rows)
        if spec.rows == "groups" and grouping == "department":
            ordered.sort(key=lambda row: department_names.get(row, row))
        else:
            ordered.sort()
        labels = {row: _row_label(spec, grouping, row, department_names) for row in ordered}
        tables.append(MetricTable(spec.key, spec.title, spec.unit, ordered, labels, mondays, values))
    return {
        "weeks": mondays,
        "k": k_threshold(),
        "grouping": grouping,
        "tables": tables,
        "pending": [monday for monday in mondays if monday not in snapshots],
    }


# --- Outbreak signals of a closed day, computed once ----------------------------------


def day_signal_groups(site: Site, day: date) -> list[GroupDay]:
    """The detector's view of ``day`` for the site and each department that
    signals, with worker sets, for insights.suppression.publish_signals."""
    first = day - timedelta(days=BASELINE_DAYS + GUARD_DAYS)
    days = [first + timedelta(days=i) for i in range((day - first).days + 1)]
    counts = daily_counts(site, first, day + timedelta(days=1))
    members: dict[int | None, set[int]] = defaultdict(set)
    for pk, department in site.workers.values_list("pk", "department_id"):
        members[department].add(pk)
        members[None].add(pk)
    groups = []
    keys = {(None, kind) for kind in ("fever", "symptomatic")} | set(counts)
    for department, kind in sorted(keys, key=lambda key: (key[0] is not None, key[0] or 0, key[1])):
        per_day = counts.get((department, kind), {})
        result = ears_c2(days, [len(per_day.get(d, ())) for d in days])[-1]
        if department is not None and not result.signal:
            continue
        baseline = frozenset().union(*(per_day.get(d, set()) for d in days[:BASELINE_DAYS]))
        groups.append(
            GroupDay(
                department=department,
                kind=kind,
                signal=result.signal,
                cases=frozenset(per_day.get(day, set())),
                population=frozenset(members.get(department, set())),
                expected=result.expected,
                baseline_workers=baseline,
            )
        )
    return groups


@dataclass(frozen=True)
class ShownSignal:
    day: date
    where: str
    kind: str
    kind_label: str
    count: int | None
    expected: float | None


def hr_signals(site: Site, days: int = 28, now: datetime | None = None, limit: int = 20) -> list[ShownSignal]:
    """The published signals of the ``days`` latest closed days, newest
    first, from their snapshots only."""
    from insights.models import SignalKind

    wanted = closed_days(site, days, now)
    shown = []
    for snapshot in PeriodSnapshot.objects.filter(
        site=site, kind=PeriodKind.DAY, start__gte=wanted[0], start__lte=wanted[-1]
    ).order_by("-start"):
        for signal in snapshot.data["signals"]:
            shown.append(
                ShownSignal(
                    day=snapshot.start,
                    where=signal["where"] or site.name,
                    kind=signal["kind"],
                    kind_label=_choice_label(SignalKind, signal["kind"]),
                    count=signal["count"],
                    expected=signal["expected"],
                )
            )
    return shown[:limit]


# --- Outbreak early warning -----------------------------------------------------


def daily_counts(site: Site, start: date, end: date) -> dict[tuple[int | None, str], dict[date, set[int]]]:
    """For each (department or None for the whole site, kind), the workers
    counted on each day in [start, end): fever (a check-in at 37.5 °C or
    more, or a fever alert opened that day) and symptomatic check-ins."""
    tz = ZoneInfo(site.timezone)
    fever_line = settings.INSIGHTS["FEVER_TEMPERATURE"]
    counts: dict[tuple[int | None, str], dict[date, set[int]]] = defaultdict(lambda: defaultdict(set))
    department = dict(Worker.objects.filter(site=site).values_list("pk", "department_id"))

    def add(kind: str, worker_id: int, day: date) -> None:
        counts[(department[worker_id], kind)][day].add(worker_id)
        counts[(None, kind)][day].add(worker_id)

    checkins = CheckIn.objects.filter(worker__site=site, day__gte=start, day__lt=end)
    for worker_id, day, temperature, *flags in checkins.values_list(
        "worker_id", "day", "temperature", *CheckIn.SYMPTOMS
    ):
        if temperature is not None and temperature >= fever_line:
            add("fever", worker_id, day)
        if any(flags):
            add("symptomatic", worker_id, day)
    fever_alerts = (
        Alert.objects.filter(
            worker__site=site,
            kind="fever",
            opened_at__gte=datetime.combine(start, time.min, tzinfo=tz),
            opened_at__lt=datetime.combine(end, time.min, tzinfo=tz),
        )
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values_list("worker_id", "day")
    )
    for worker_id, day in fever_alerts:
        add("fever", worker_id, day)
    return counts


def workers_behind_signal(user: AbstractBaseUser, signal) -> list[Worker]:
    """The workers counted on the signal's day, restricted to those whose
    health data ``user`` may see, each read written to the access log."""
    from workers.selectors import workers_health_visible_to
    from workers.services import access_log_record

    counts = daily_counts(signal.site, signal.day, signal.day + timedelta(days=1))
    ids = counts.get((signal.department_id, signal.kind), {}).get(signal.day, set())
    workers = list(
        workers_health_visible_to(user).filter(pk__in=ids).select_related("user", "department").order_by("pk")
    )
    for worker in workers:
        access_log_record(accessor=user, worker=worker, what="cluster signal", reason=f"signal {signal.pk}")
    return workers


def site_notices_current(site_id: int, now: datetime) -> list[SiteNotice]:
    """The site's notices still shown at ``now``, newest signal first."""
    return list(SiteNotice.objects.filter(site_id=site_id, expires_at__gt=now).order_by("-day"))
