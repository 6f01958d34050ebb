"""Aggregates for HR and programme managers, and the daily counts behind
the outbreak signal. Every table HR sees passes through
insights.suppression before it leaves this module."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.db.models.functions import TruncDate, TruncWeek
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert
from devices.models import Reading
from insights.suppression import Table, suppress
from workers.models import CheckIn, Shift, ShiftPattern, Site, StaffRole, Worker
from workers.roles import sites_for_role


def insight_sites(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    """Sites whose aggregates ``user`` may see: HR and clinicians of the site."""
    ids = [
        *sites_for_role(user, StaffRole.HR).values_list("pk", flat=True),
        *sites_for_role(user, StaffRole.CLINICIAN).values_list("pk", flat=True),
    ]
    return Site.objects.filter(pk__in=ids)


def k_threshold() -> int:
    return settings.INSIGHTS["K"]


@dataclass(frozen=True)
class Period:
    """Whole ISO weeks (Monday to Sunday) in the site's time zone."""

    weeks: list[date]  # Mondays, oldest first
    tz: ZoneInfo

    @classmethod
    def last_weeks(cls, site: Site, count: int, today: date | None = None) -> Period:
        tz = ZoneInfo(site.timezone)
        today = today or datetime.now(tz).date()
        monday = today - timedelta(days=today.weekday())
        return cls([monday - timedelta(weeks=i) for i in reversed(range(count))], tz)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.weeks[0], time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.weeks[-1] + timedelta(days=7), time.min, tzinfo=self.tz)


GROUPINGS = {
    "department": ("department_id", _("Department")),
    "shift": ("shift_pattern", _("Shift pattern")),
}


def _groups(site: Site, grouping: str) -> tuple[list[Hashable], dict[Hashable, str], dict[int, Hashable]]:
    """(row keys, row labels, worker id -> row key) for the site."""
    field, _label = GROUPINGS[grouping]
    workers = Worker.objects.filter(site=site)
    member = dict(workers.values_list("pk", field))
    if grouping == "department":
        labels = dict(site.departments.values_list("pk", "name"))
    else:
        labels = {k: str(v) for k, v in ShiftPattern.choices}
    rows = [key for key in labels if key in set(member.values())]
    return rows, labels, member


@dataclass
class MetricTable:
    key: str
    title: str
    unit: str
    rows: list[Hashable]
    row_labels: dict[Hashable, str]
    columns: list[date]
    table: Table
    # For rates: the denominator of a cell, of a column total (row None).
    denominator: Callable[[Hashable | None, date], float] | None = None

    @property
    def rendered(self) -> list[tuple[str, list[str]]]:
        """(row label, shown cells) per row, then the totals row."""
        out = [(self.row_labels.get(row, str(row)), [self.shown(row, c) for c in self.columns]) for row in self.rows]
        out.append((str(_("Total")), [self.shown(None, c) for c in self.columns]))
        return out

    def shown(self, row: Hashable | None, column: date) -> str:
        cell = self.table.column_totals[column] if row is None else self.table.cells[(row, column)]
        return _format(cell, self.denominator(row, column) if self.denominator else None)


def _format(cell, denominator: float | None) -> str:
    if cell.hidden:
        return "—"
    if denominator is None:
        return f"{cell.value:g}"
    if not denominator:
        return "·"
    return f"{100 * cell.value / denominator:.1f}"


def _table(
    records: Iterable[tuple[Hashable, date, int, float]], rows, weeks, populations, k, small_groups: bool = True
) -> Table:
    """A suppressed table from (row, week, worker, value) records; with
    ``small_groups``, a group with fewer than k enrolled workers is hidden entirely."""
    small = [row for row in rows if populations.get(row, 0) < k] if small_groups else []
    return suppress(Table.from_records(list(records), rows, weeks), k, small_rows=small)


def weekly_tables(site: Site, grouping: str = "department", weeks: int = 8, today: date | None = None) -> dict:
    """Every HR table for the site: participation, alerts, heat-strain
    minutes, check-ins and symptoms, per group and ISO week, suppressed."""
    k = k_threshold()
    period = Period.last_weeks(site, weeks, today)
    rows, labels, member = _groups(site, grouping)
    populations: dict[Hashable, int] = defaultdict(int)
    for row in member.values():
        populations[row] += 1
    week_of = TruncWeek
    tz = period.tz

    def week_key(value) -> date:
        return value.date() if isinstance(value, datetime) else value

    # worker-shifts: scheduled shifts starting in the week
    shift_rows = (
        Shift.objects.filter(worker__site=site, starts_at__gte=period.start, starts_at__lt=period.end)
        .annotate(week=week_of("starts_at", tzinfo=tz))
        .values_list("worker_id", "week")
    )
    worker_shifts: dict[tuple, float] = defaultdict(float)
    shift_records = []
    for worker_id, week in shift_rows:
        key = (member.get(worker_id), week_key(week))
        worker_shifts[key] += 1
        shift_records.append((key[0], key[1], worker_id, 1.0))

    monitored = (
        Reading.objects.filter(worker__site=site, measured_at__gte=period.start, measured_at__lt=period.end)
        .annotate(week=week_of("measured_at", tzinfo=tz))
        .values_list("worker_id", "week")
        .distinct()
    )
    participation = [(member.get(w), week_key(wk), w, 1.0) for w, wk in monitored]

    alerts = (
        Alert.objects.filter(worker__site=site, opened_at__gte=period.start, opened_at__lt=period.end)
        .annotate(week=week_of("opened_at", tzinfo=tz))
        .values_list("worker_id", "week", "kind", "severity", "opened_at", "resolved_at")
    )
    alert_records, heat_records, kind_records = [], [], []
    now = datetime.now(tz)
    for worker_id, week, kind, severity, opened, resolved in alerts:
        row, wk = member.get(worker_id), week_key(week)
        alert_records.append((row, wk, worker_id, 1.0))
        kind_records.append((kind, severity, wk, worker_id))
        if kind == "heat_strain":
            minutes = ((resolved or now) - opened).total_seconds() / 60
            heat_records.append((row, wk, worker_id, round(minutes)))

    checkins = CheckIn.objects.filter(worker__site=site, day__gte=period.weeks[0], day__lt=period.end.date())
    checkin_records, symptom_records, checkins_per_cell = [], [], defaultdict(float)
    for worker_id, day, *flags in checkins.values_list("worker_id", "day", *CheckIn.SYMPTOMS):
        row, wk = member.get(worker_id), day - timedelta(days=day.weekday())
        checkin_records.append((row, wk, worker_id, 1.0))
        checkins_per_cell[(row, wk)] += 1
        if any(flags):
            symptom_records.append((row, wk, worker_id, 1.0))

    # Consultations requested in the week, per group; and closed ones by outcome, site-wide.
    from consultations.models import Consultation, Outcome

    consultations = (
        Consultation.objects.filter(worker__site=site, requested_at__gte=period.start, requested_at__lt=period.end)
        .annotate(week=week_of("requested_at", tzinfo=tz))
        .values_list("worker_id", "week", "outcome")
    )
    consultation_records, outcome_records = [], []
    for worker_id, week, outcome in consultations:
        wk = week_key(week)
        consultation_records.append((member.get(worker_id), wk, worker_id, 1.0))
        if outcome:
            outcome_records.append((outcome, wk, worker_id, 1.0))
    outcome_rows = [value for value in Outcome.values if any(r[0] == value for r in outcome_records)]
    outcome_labels = {value: str(label) for value, label in Outcome.choices}

    def per_cell(per: dict[tuple, float]) -> Callable[[Hashable | None, date], float]:
        def denominator(row: Hashable | None, week: date) -> float:
            if row is None:
                return sum(v for (r, w), v in per.items() if w == week)
            return per.get((row, week), 0.0)

        return denominator

    def make(key, title, unit, records, denominator=None, table_rows=rows, table_labels=labels, small=True):
        table = _table(records, table_rows, period.weeks, populations if small else {}, k, small)
        return MetricTable(key, title, unit, table_rows, table_labels, period.weeks, table, denominator)

    # Alerts by kind and severity, for the whole site (a row per kind and severity).
    by_kind = [(f"{kind}/{severity}", wk, worker, 1.0) for (kind, severity, wk, worker) in kind_records]
    kind_rows = sorted({r[0] for r in by_kind})
    kind_labels = {r: _kind_label(r) for r in kind_rows}
    site_shifts = per_cell(worker_shifts)

    return {
        "period": period,
        "k": k,
        "grouping": grouping,
        "populations": dict(populations),
        "tables": [
            make("participation", _("Workers monitored"), _("workers"), participation),
            make("worker_shifts", _("Worker-shifts"), _("shifts"), shift_records),
            make("alerts", _("Alerts per 100 worker-shifts"), _("per 100 shifts"), alert_records, site_shifts),
            make(
                "alerts_by_kind",
                _("Alerts per 100 worker-shifts, by kind and severity"),
                _("per 100 shifts"),
                by_kind,
                lambda row, week: site_shifts(None, week),
                kind_rows,
                kind_labels,
                small=False,
            ),
            make("heat_minutes", _("Heat-strain minutes"), _("minutes"), heat_records),
            make("checkins", _("Check-ins per 100 worker-shifts"), _("per 100 shifts"), checkin_records, site_shifts),
            make("consultations", _("Consultations requested"), _("consultations"), consultation_records),
            make(
                "outcomes",
                _("Consultation outcomes"),
                _("consultations"),
                outcome_records,
                None,
                outcome_rows,
                outcome_labels,
                small=False,
            ),
            make(
                "symptomatic",
                _("Check-ins with symptoms, per 100 check-ins"),
                _("per 100"),
                symptom_records,
                per_cell(dict(checkins_per_cell)),
            ),
        ],
    }


def _kind_label(row: str) -> str:
    from alerts.models import AlertKind, Severity

    kind, severity = row.split("/")
    return f"{AlertKind(kind).label} · {Severity(severity).label}"


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
