"""Today's risk for one worker: what their own data and their site's
conditions say about today, each piece with its reason and what to do.

``today_risk`` is pure (plain inputs, no I/O) so that it is tested with
scripted site conditions; ``today_risk_for`` loads those inputs.

Heat: the site's hourly ambient air (the wearables' ambient_temp and
ambient_humidity) is turned into the KMA apparent temperature (체감온도,
alerts.rules.heat), and the hottest hour of yesterday and of today so far
stands in for the coming shift (no weather forecast is read: a factory floor
follows yesterday's heat more closely than the city forecast). The schedule
is the one the rest reminder enforces (alerts.rules.thresholds: heat-wave
work from 31 °C, rest from 33 °C, more rest and no heavy work in the
afternoon from 35 °C), with water every 15-20 minutes from 31 °C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Avg
from django.db.models.functions import TruncHour
from django.utils.translation import gettext as _

from alerts.guidance import BY_SLUG, Guide, guides_for_kinds
from alerts.messages import alert_labels
from alerts.models import Alert
from alerts.rules.heat import kma_apparent_temperature_c, rest_requirement
from alerts.rules.thresholds import DEFAULTS, Thresholds
from devices.models import Reading
from workers.models import CheckIn, Worker

# Levels, lowest first; the page's overall level is the highest piece's.
LEVELS = ("unknown", "low", "moderate", "high", "very_high")
# Check-in answers older than this say nothing about today.
CHECKIN_FRESH_DAYS = 1
ALERTS_WITHIN = timedelta(hours=24)
# The site's hourly air is the same for all its workers and costs a scan of
# every ambient reading of the site since yesterday: it is computed once per
# site per this many seconds and kept in the cache.
CLIMATE_CACHE_SECONDS = 600
# Every wristband of a site reads its air; a few of them give its hourly
# mean, and reading them all scans every ambient reading of the site (432,000
# rows for 100 workers over 36 hours: 5.5 s on SQLite, against 0.6 s for 8).
CLIMATE_SAMPLE_WORKERS = 8
# Heavy work stops in the hottest hours at the heat-wave warning level (KOSHA).
HEAVY_WORK_STOP = ("14:00", "17:00")


@dataclass(frozen=True)
class HourClimate:
    """The site's mean ambient air over one hour (start of the hour, aware)."""

    hour: datetime
    temp_c: float
    humidity: float


@dataclass(frozen=True)
class AlertFact:
    kind: str
    opened_at: datetime
    resolved: bool


@dataclass(frozen=True)
class CheckInFact:
    day: date
    temperature: float | None
    symptoms: tuple[str, ...]  # CheckIn.SYMPTOMS answered yes


@dataclass
class RiskPiece:
    topic: str  # heat, alert, checkin
    level: str
    title: str
    reason: str
    advice: list[str] = field(default_factory=list)
    guides: list[Guide] = field(default_factory=list)


@dataclass
class TodayRisk:
    level: str
    pieces: list[RiskPiece]


def _higher(level: str, steps: int = 1) -> str:
    return LEVELS[min(LEVELS.index(level) + steps, len(LEVELS) - 1)]


def heat_piece(
    *, now: datetime, tz: ZoneInfo, hours: Sequence[HourClimate], acclimatized: bool | None, t: Thresholds = DEFAULTS
) -> RiskPiece:
    """The heat risk of the coming shift from the hottest hour (KMA apparent
    temperature) of yesterday and today so far, and the worker's
    acclimatization."""
    today = now.astimezone(tz).date()
    recent = [h for h in hours if h.hour.astimezone(tz).date() in (today, today - timedelta(days=1)) and h.hour <= now]
    if not recent:
        return RiskPiece(
            topic="heat",
            level="unknown",
            title=_("Heat: not known"),
            reason=_("No air temperature has reached us from your site since yesterday."),
            advice=[_("Drink water regularly, and rest in the shade if you feel hot.")],
            guides=[BY_SLUG["heat"]],
        )
    hottest = max(recent, key=lambda h: (kma_apparent_temperature_c(h.temp_c, h.humidity), h.hour))
    apparent = round(kma_apparent_temperature_c(hottest.temp_c, hottest.humidity), 1)
    local = hottest.hour.astimezone(tz)
    params = {"temp": f"{apparent:.0f}", "time": local.strftime("%H:%M")}
    if local.date() == today:
        reason = _("Your site reached a perceived %(temp)s °C at %(time)s today.") % params
    else:
        reason = _("Your site reached a perceived %(temp)s °C at %(time)s yesterday.") % params
    advice: list[str] = []
    requirement = rest_requirement(apparent, t)
    if apparent >= t.apparent_temp_rest_more:
        level = "very_high"
    elif apparent >= t.apparent_temp_rest:
        level = "high"
    elif apparent >= t.apparent_temp_heat_work:
        level = "moderate"
    else:
        level = "low"
    if apparent >= t.apparent_temp_heat_work:
        advice.append(_("Drink a cup of water every 15 to 20 minutes, even if you are not thirsty."))
    if requirement:
        advice.append(
            _("Rest in the shade for %(minutes)s minutes every %(every)s minutes of work.")
            % {"minutes": requirement[0], "every": requirement[1]}
        )
    if apparent >= t.apparent_temp_rest_more:
        advice.append(
            _("Heavy work stops from %(start)s to %(end)s.") % {"start": HEAVY_WORK_STOP[0], "end": HEAVY_WORK_STOP[1]}
        )
    if level != "low" and acclimatized is not True:
        # ACGIH and KOSHA: the unacclimatized are at higher risk in their first
        # one to two weeks of heat; unknown counts as not yet.
        level = _higher(level)
        advice.append(
            _(
                "Your body may not be used to the heat yet: take your breaks early "
                "and tell your supervisor if you feel unwell."
            )
            if acclimatized is None
            else _(
                "Your body is not used to the heat yet: take your breaks early "
                "and tell your supervisor if you feel unwell."
            )
        )
    if level == "low":
        advice.append(_("No heat-wave measures are needed; drink water as usual."))
    titles = {
        "low": _("Heat: low"),
        "moderate": _("Heat: take care"),
        "high": _("Heat: high"),
        "very_high": _("Heat: very high"),
    }
    return RiskPiece(
        topic="heat", level=level, title=titles[level], reason=reason, advice=advice, guides=[BY_SLUG["heat"]]
    )


def alert_pieces(*, now: datetime, tz: ZoneInfo, alerts: Sequence[AlertFact]) -> list[RiskPiece]:
    """One piece per alert kind of the last 24 hours (the newest of each)."""
    labels = alert_labels()
    newest: dict[str, AlertFact] = {}
    for alert in sorted(alerts, key=lambda a: a.opened_at):
        if now - alert.opened_at <= ALERTS_WITHIN:
            newest[alert.kind] = alert
    pieces = []
    for kind, alert in sorted(newest.items(), key=lambda item: item[1].opened_at, reverse=True):
        params = {"what": labels["kind"].get(kind, kind), "time": alert.opened_at.astimezone(tz).strftime("%H:%M")}
        reason = (
            _("You had an alert (%(what)s) at %(time)s; it is resolved.")
            if alert.resolved
            else _("You have an open alert (%(what)s) since %(time)s.")
        ) % params
        pieces.append(
            RiskPiece(
                topic="alert",
                level="low" if alert.resolved else "high",
                title=_("Recent alert"),
                reason=reason,
                advice=[_("Read what it means and what to do.")],
                guides=guides_for_kinds({kind}),
            )
        )
    return pieces


def checkin_piece(*, today: date, checkin: CheckInFact | None, t: Thresholds = DEFAULTS) -> RiskPiece | None:
    """The latest check-in's answers, if from today or yesterday."""
    if checkin is None or (today - checkin.day).days > CHECKIN_FRESH_DAYS:
        return None
    when = _("today") if checkin.day == today else _("yesterday")
    feverish = checkin.temperature is not None and checkin.temperature >= t.fever_temperature
    if not checkin.symptoms and not feverish:
        return RiskPiece(
            topic="checkin",
            level="low",
            title=_("Check-in"),
            reason=_("Your check-in %(when)s reported no symptoms.") % {"when": when},
        )
    names = dict(_symptom_labels())
    said = [str(names.get(s, s)) for s in checkin.symptoms]
    if feverish:
        said.insert(0, _("a temperature of %(temp)s °C") % {"temp": f"{checkin.temperature:.1f}"})
    return RiskPiece(
        topic="checkin",
        level="high" if feverish or "shortness_of_breath" in checkin.symptoms else "moderate",
        title=_("Check-in"),
        reason=_("Your check-in %(when)s reported: %(what)s.") % {"when": when, "what": ", ".join(said)},
        advice=[
            _("If you feel unwell, stay home or see the health room before work, and ask for a consultation."),
        ],
        guides=[BY_SLUG["fever"]],
    )


def _symptom_labels() -> list[tuple[str, str]]:
    return [(name, CheckIn._meta.get_field(name).verbose_name) for name in CheckIn.SYMPTOMS]


def today_risk(
    *,
    now: datetime,
    tz: ZoneInfo,
    hours: Sequence[HourClimate],
    acclimatized: bool | None,
    alerts: Sequence[AlertFact],
    checkin: CheckInFact | None,
    t: Thresholds = DEFAULTS,
) -> TodayRisk:
    """Every piece of today's risk, heat first, and the highest level among
    them (unknown heat alone does not make the day unknown)."""
    pieces = [heat_piece(now=now, tz=tz, hours=hours, acclimatized=acclimatized, t=t)]
    pieces += alert_pieces(now=now, tz=tz, alerts=alerts)
    found = checkin_piece(today=now.astimezone(tz).date(), checkin=checkin, t=t)
    if found:
        pieces.append(found)
    level = max((p.level for p in pieces), key=LEVELS.index)
    return TodayRisk(level=level, pieces=pieces)


# --- Loading the inputs ---------------------------------------------------------


def site_hourly_climate(worker: Worker, since: datetime) -> list[HourClimate]:
    """The mean ambient temperature and humidity per hour over all readings
    from the worker's site since ``since`` (hours with both only), cached
    per site and start for CLIMATE_CACHE_SECONDS."""
    key = f"portal.risk.climate:{worker.site_id}:{since.isoformat()}"
    found = cache.get(key)
    if found is None:
        found = _site_hourly_climate(worker.site_id, since)
        cache.set(key, found, CLIMATE_CACHE_SECONDS)
    return found


def _climate_sample(site_id: int, since: datetime) -> list[int]:
    """Up to CLIMATE_SAMPLE_WORKERS workers of the site whose wristband sent
    ambient air since ``since`` (one index probe per worker tried)."""
    sample: list[int] = []
    for worker_id in Worker.objects.filter(site_id=site_id).order_by("pk").values_list("pk", flat=True).iterator():
        if Reading.objects.filter(worker_id=worker_id, metric="ambient_temp", measured_at__gte=since).exists():
            sample.append(worker_id)
            if len(sample) == CLIMATE_SAMPLE_WORKERS:
                break
    return sample


def _site_hourly_climate(site_id: int, since: datetime) -> list[HourClimate]:
    rows = (
        Reading.objects.filter(
            worker_id__in=_climate_sample(site_id, since),
            metric__in=("ambient_temp", "ambient_humidity"),
            measured_at__gte=since,
        )
        .annotate(hour=TruncHour("measured_at"))
        .values("hour", "metric")
        .annotate(mean=Avg("value"))
    )
    by_hour: dict[datetime, dict[str, float]] = {}
    for row in rows:
        by_hour.setdefault(row["hour"], {})[row["metric"]] = row["mean"]
    return [
        HourClimate(hour=hour, temp_c=values["ambient_temp"], humidity=values["ambient_humidity"])
        for hour, values in sorted(by_hour.items())
        if "ambient_temp" in values and "ambient_humidity" in values
    ]


def today_risk_for(worker: Worker, now: datetime) -> TodayRisk:
    """Load the worker's and the site's data and compute today's risk. The
    worker's own data only: this is read for the worker themself."""
    tz = ZoneInfo(worker.site.timezone)
    local_today = now.astimezone(tz).date()
    yesterday_start = datetime.combine(local_today - timedelta(days=1), datetime.min.time(), tzinfo=tz)
    alerts = [
        AlertFact(kind=a.kind, opened_at=a.opened_at, resolved=a.resolved_at is not None)
        for a in Alert.objects.filter(worker=worker, opened_at__gte=now - ALERTS_WITHIN).only(
            "kind", "opened_at", "resolved_at"
        )
    ]
    latest = CheckIn.objects.filter(worker=worker, day__lte=local_today).order_by("-day").first()
    checkin = (
        CheckInFact(
            day=latest.day,
            temperature=latest.temperature,
            symptoms=tuple(s for s in CheckIn.SYMPTOMS if getattr(latest, s)),
        )
        if latest
        else None
    )
    return today_risk(
        now=now,
        tz=tz,
        hours=site_hourly_climate(worker, yesterday_start),
        acclimatized=worker.acclimatized,
        alerts=alerts,
        checkin=checkin,
    )


__all__ = ["LEVELS", "AlertFact", "CheckInFact", "HourClimate", "TodayRisk", "today_risk", "today_risk_for"]
