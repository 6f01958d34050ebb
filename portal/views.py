"""The worker portal (/me/): a phone-first view of one's own data.

Only the worker themself: every page finds the worker through the one access
rule (workers.selectors.worker_health_for with the user's own record, which
logs nothing for one's own data). Users without a Worker record (HR, site
administrators, clinicians) are sent back to the home page. The manifest,
the service worker and the offline page hold no personal data and are public.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from functools import cache, wraps
from pathlib import Path
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_POST, require_safe

from alerts.messages import alert_labels
from alerts.models import AlertStatus
from alerts.rules.thresholds import DEFAULTS
from alerts.selectors import alerts_visible_to
from devices.models import Reading
from devices.selectors import latest_values
from insights.selectors import site_notices_current
from portal import exports
from portal.forms import CheckInForm, ConsentForm, ExportForm
from portal.guidance import BY_SLUG, GUIDES
from portal.risk import today_risk_for
from portal.status import status_for, status_table
from workers.models import CheckIn, ConsentDecision, Worker
from workers.roles import worker_of
from workers.selectors import (
    access_log_about,
    consent_history,
    consent_latest,
    consent_text_current,
    site_clinicians,
    worker_events_about,
    worker_has_consent,
    worker_health_for,
)
from workers.services import ConsentError, checkin_submit, consent_grant, consent_withdraw

# What the Today page shows, in this order (docs/device-protocol.md names).
VITALS = [
    ("heart_rate", _("Heart rate"), _("bpm")),
    ("spo2", _("Blood oxygen"), "%"),
    ("core_temp", _("Body temperature"), "°C"),
    ("skin_temp", _("Skin temperature"), "°C"),
    ("resp_rate", _("Breathing"), _("/min")),
]
# A value older than this is shown as stale.
STALE_AFTER = timedelta(minutes=5)

# The access log's "what", in the worker's words.
ACCESS_WHAT = {
    "worker page": _("your health page"),
    "readings": _("your readings"),
    "alerts": _("your alerts"),
    "alert": _("an alert of yours"),
    "check-ins": _("your check-ins"),
    "snooze": _("your alert settings"),
    "consultation": _("a consultation of yours"),
    "consultations": _("your consultations"),
    "consultation chat": _("a consultation chat of yours"),
    "alert (live)": _("an alert of yours, shown live on their screen"),
    "consultation (live)": _("your consultation request, shown live on their list"),
    "consultation notes": _("the clinician's notes on your consultation"),
    "cluster signal": _("an outbreak check that counted you"),
}

# Files the service worker keeps for starting offline: the look of the
# portal, never a page with data or an API answer.
SHELL_STATIC = [
    "css/healthhub.css",
    "js/portal_shell.js",
    "icons/portal-192.png",
    "icons/portal-512.png",
]


def worker_required(view: Callable) -> Callable:
    """Signed-in workers only, and only for themselves: the view gets the
    user's own Worker. Anyone else goes back to the home page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        me = worker_of(request.user)
        if me is None:
            return redirect("desk:home")
        worker = worker_health_for(request.user, me.pk, what="portal")
        with timezone.override(ZoneInfo(worker.site.timezone)):
            return view(request, worker, *args, **kwargs)

    return wrapper


def _local_today(worker: Worker, now: datetime) -> tuple[date, datetime]:
    """(the site's local date today, its midnight as an aware datetime)."""
    tz = ZoneInfo(worker.site.timezone)
    today = now.astimezone(tz).date()
    return today, datetime.combine(today, time.min, tzinfo=tz)


def _portal(request: HttpRequest, template: str, context: dict, *, section: str, status: int = 200) -> HttpResponse:
    context = {"section": section, "consultations_url": reverse("consultations:list"), **context}
    return render(request, f"portal/{template}", context, status=status)


# --- Today -------------------------------------------------------------------


@require_safe
@worker_required
def today(request: HttpRequest, worker: Worker) -> HttpResponse:
    now = timezone.now()
    day, midnight = _local_today(worker, now)
    consented = worker_has_consent(worker.pk)
    latest = {reading.metric: reading for reading in latest_values(worker)}
    vitals = [
        {
            "metric": metric,
            "label": label,
            "unit": unit,
            "reading": latest.get(metric),
            "stale": metric not in latest or now - latest[metric].measured_at > STALE_AFTER,
        }
        for metric, label, unit in VITALS
    ]
    steps = Reading.objects.filter(worker=worker, metric="steps", measured_at__gte=midnight).aggregate(
        total=Sum("value")
    )["total"]
    mine = alerts_visible_to(request.user).filter(worker=worker)
    open_alerts = list(mine.exclude(status=AlertStatus.RESOLVED).order_by("-severity_rank", "opened_at"))
    resolved = list(
        mine.filter(status=AlertStatus.RESOLVED, resolved_at__gte=now - timedelta(hours=24)).order_by("-resolved_at")[
            :5
        ]
    )
    status = status_for(((a.kind, a.severity) for a in open_alerts), monitoring=consented)
    newest = max((r.measured_at for r in latest.values()), default=None)
    return _portal(
        request,
        "today.html",
        {
            "worker": worker,
            "consented": consented,
            "status": status,
            "vitals": vitals,
            "steps_today": int(steps or 0),
            "steps_at": latest["steps"].measured_at if "steps" in latest else None,
            "ambient_temp": latest.get("ambient_temp"),
            "ambient_humidity": latest.get("ambient_humidity"),
            "battery": latest.get("battery"),
            "newest": newest,
            "open_alerts": open_alerts,
            "resolved_alerts": resolved,
            "checkin": CheckIn.objects.filter(worker=worker, day=day).first(),
            "risk": today_risk_for(worker, now),
            "notices": site_notices_current(worker.site_id, now),
            "outbreak_guide": BY_SLUG["outbreak"],
            "live": {
                "worker": worker.pk,
                "readings": reverse("api:worker-readings", args=[worker.pk]),
                "alerts": reverse("api:alerts") + f"?worker={worker.pk}",
                "stream": "/ws/alerts/",
                "poll": consented,
                "since": (newest or now - timedelta(minutes=10)).isoformat(),
                "day_start": midnight.isoformat(),
                "stale_after_s": int(STALE_AFTER.total_seconds()),
                "status": status_table(),
                "labels": alert_labels(),
                "text": {
                    "live": gettext("Live"),
                    "reconnecting": gettext("Reconnecting…"),
                    "no_alerts": gettext("No alerts. Take care."),
                    "updated": gettext("Updated"),
                },
            },
        },
        section="today",
    )


# --- Check-in ----------------------------------------------------------------


@worker_required
def checkin(request: HttpRequest, worker: Worker) -> HttpResponse:
    """Today's check-in: a plain form (no JavaScript needed); sending it
    again the same day replaces the earlier one."""
    now = timezone.now()
    day, _ = _local_today(worker, now)
    todays = CheckIn.objects.filter(worker=worker, day=day).first()
    consented = worker_has_consent(worker.pk)
    if request.method == "POST":
        form = CheckInForm(request.POST)
        if not consented:
            # Check-ins are part of monitoring: without consent nothing is kept.
            messages.error(request, gettext("Monitoring is off, so check-ins are not kept. Turn it on in Privacy."))
            context = _checkin_context(form, todays, consented=False)
            return _portal(request, "checkin.html", context, section="checkin", status=403)
        if form.is_valid():
            checkin_submit(
                worker=worker, temperature=form.cleaned_data["temperature"], symptoms=form.cleaned_data["symptoms"]
            )
            messages.success(request, gettext("Thank you: today's check-in is saved."))
            return redirect("portal:checkin")
    else:
        initial = {"temperature": todays.temperature, "symptoms": todays.symptoms} if todays else {}
        form = CheckInForm(initial=initial)
    return _portal(request, "checkin.html", _checkin_context(form, todays, consented), section="checkin")


def _checkin_context(form: CheckInForm, todays: CheckIn | None, consented: bool) -> dict:
    fever_at = DEFAULTS.fever_temperature
    return {
        "form": form,
        "checkin": todays,
        "consented": consented,
        "symptom_labels": [str(CheckIn._meta.get_field(name).verbose_name) for name in todays.symptoms]
        if todays
        else [],
        # The same threshold as the fever rule's (a site may lower it; the
        # rule then raises an alert, which the Today page shows).
        "see_clinic": bool(todays and (todays.symptoms or (todays.temperature or 0) >= fever_at)),
    }


# --- Privacy -----------------------------------------------------------------


@require_safe
@worker_required
def privacy(request: HttpRequest, worker: Worker) -> HttpResponse:
    text = consent_text_current()
    latest = consent_latest(worker.pk)
    consented = latest is not None and latest.decision == ConsentDecision.GRANTED
    page = Paginator(access_log_about(worker), 50).get_page(request.GET.get("page"))
    for entry in page:
        profile = getattr(entry.accessor, "staff_profile", None)
        entry.role_label = profile.get_role_display() if profile is not None else gettext("Administrator")
        entry.what_label = ACCESS_WHAT.get(entry.what, entry.what)
    return _portal(
        request,
        "privacy.html",
        {
            "worker": worker,
            "text": text,
            "text_body": text.text_for(translation.get_language()) if text else "",
            "latest": latest,
            "consented": consented,
            # Agreed to an older version: the newer one is shown for agreeing.
            "newer_text": consented and text is not None and latest.text_id != text.pk,
            "history": consent_history(worker)[:50],
            "clinicians": site_clinicians(worker),
            "log": page,
            "wearable_events": worker_events_about(worker)[:50],
        },
        section="privacy",
    )


@require_POST
@worker_required
def consent(request: HttpRequest, worker: Worker) -> HttpResponse:
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("That did not work: please try again."))
        return redirect("portal:privacy")
    if form.cleaned_data["decision"] == "withdraw":
        if consent_withdraw(worker=worker, by=request.user) is not None:
            messages.success(request, gettext("Monitoring is off. Your wearable has been disconnected."))
        return redirect("portal:privacy")
    text = consent_text_current()
    if text is None or form.cleaned_data["version"] != text.version:
        messages.error(request, gettext("The consent text has changed: please read it again."))
        return redirect("portal:privacy")
    try:
        # The language the page, and so the text, was read in.
        consent_grant(worker=worker, text=text, language=translation.get_language(), by=request.user)
    except ConsentError:
        messages.error(request, gettext("That did not work: please try again."))
    else:
        messages.success(request, gettext("Thank you: monitoring is on."))
    return redirect("portal:privacy")


# --- My data -----------------------------------------------------------------


def _export_period(request: HttpRequest, worker: Worker) -> tuple[ExportForm, datetime, datetime]:
    day, _ = _local_today(worker, timezone.now())
    form = ExportForm(request.GET, today=day)
    if form.is_valid():
        start_day, end_day = form.cleaned_data["start"], form.cleaned_data["end"]
    else:
        start_day, end_day = day - timedelta(days=29), day
    tz = ZoneInfo(worker.site.timezone)
    start = datetime.combine(start_day, time.min, tzinfo=tz)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz)
    return form, start, end


@require_safe
@worker_required
def data(request: HttpRequest, worker: Worker) -> HttpResponse:
    form, start, end = _export_period(request, worker)
    if not request.GET:
        form = ExportForm(initial={"start": start.date(), "end": (end - timedelta(days=1)).date()}, today=start.date())
    query = f"?start={start.date().isoformat()}&end={(end - timedelta(days=1)).date().isoformat()}"
    return _portal(
        request,
        "data.html",
        {
            "worker": worker,
            "form": form,
            "json_url": reverse("portal:export-json") + query,
            "fhir_url": reverse("portal:export-fhir") + query,
            "start": start,
            "last_day": (end - timedelta(days=1)).date(),
        },
        section="data",
    )


def _stream(request: HttpRequest, chunks: Iterator[bytes], *, content_type: str, filename: str) -> HttpResponse:
    """Stream ``chunks`` to the client without holding them all. Under ASGI
    the synchronous generator (it reads the database) is advanced in the
    request's own worker thread, one chunk at a time; Django would otherwise
    read it to the end first."""
    if isinstance(request, ASGIRequest):
        body = _async_chunks(chunks)
    else:
        body = chunks
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


async def _async_chunks(chunks: Iterator[bytes]):
    step = sync_to_async(next, thread_sensitive=True)
    done = object()
    try:
        while (chunk := await step(chunks, done)) is not done:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


def _bad_period(form: ExportForm) -> HttpResponse:
    """400 before anything is streamed: the period did not parse or is out of bounds."""
    return HttpResponseBadRequest(form.errors.as_text(), content_type="text/plain; charset=utf-8")


def _export_name(worker: Worker, suffix: str) -> str:
    return f"healthhub-{worker.employee_number}-{timezone.localdate().isoformat()}.{suffix}"


@require_safe
@worker_required
def export_json(request: HttpRequest, worker: Worker) -> HttpResponse:
    form, start, end = _export_period(request, worker)
    if not form.is_valid():
        return _bad_period(form)
    chunks = exports.json_export(worker, start=start, end=end, now=timezone.now(), labels=alert_labels())
    return _stream(request, chunks, content_type="application/json", filename=_export_name(worker, "json"))


@require_safe
@worker_required
def export_fhir(request: HttpRequest, worker: Worker) -> HttpResponse:
    form, start, end = _export_period(request, worker)
    if not form.is_valid():
        return _bad_period(form)
    chunks = exports.fhir_export(worker, start=start, end=end, now=timezone.now())
    return _stream(request, chunks, content_type="application/fhir+json", filename=_export_name(worker, "fhir.json"))


# --- Installable: manifest, service worker, offline page ----------------------


@require_safe
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> HttpResponse:
    start = reverse("portal:today")
    body = {
        "id": start,
        "name": gettext("healthhub: my health"),
        "short_name": "healthhub",
        "description": gettext("Your vitals, alerts and daily check-in at work."),
        "lang": translation.get_language(),
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f5f7fa",
        "theme_color": "#0b6bcb",
        "icons": [
            {"src": static(f"icons/portal-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png", "purpose": p}
            for size in (192, 512)
            for p in ("any", "maskable")
        ],
    }
    return JsonResponse(body, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})


@cache
def _shell_version() -> str:
    """A digest of the shell's files: a new release gets a new cache."""
    digest = hashlib.sha256(settings.STATIC_URL.encode())
    for name in SHELL_STATIC:
        path = finders.find(name)
        if path:
            digest.update(Path(path).read_bytes())
    digest.update(Path(__file__).with_name("templates").joinpath("portal/offline.html").read_bytes())
    return digest.hexdigest()[:16]


@require_safe
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    offline = reverse("portal:offline")
    config = {
        "version": _shell_version(),
        "offline": offline,
        "shell": [offline, *(static(name) for name in SHELL_STATIC)],
        "push": static("js/push_sw.js"),
        # Guidance holds nothing personal: kept for reading offline.
        "guides": [reverse("portal:guides"), *(reverse("portal:guide", args=[g.slug]) for g in GUIDES)],
    }
    return render(
        request,
        "portal/sw.js",
        # JSON of our own URLs: safe inside the script.
        {"config": json.dumps(config), "scope": reverse("portal:today")},
        content_type="text/javascript; charset=utf-8",
    )


@require_safe
def offline(request: HttpRequest) -> HttpResponse:
    """What the installed portal shows when it starts without a network:
    nothing personal (the service worker keeps this page)."""
    return render(request, "portal/offline.html")
