"""Every main page in a real browser, at phone (360 px) and desktop (1366 px)
width, in Korean, on the demo plant with some history: each page loads
without a script error and shows its main content, and what it weighs as
transferred on a cold load is measured.

The screenshots go to a temporary folder, or to the folder named by
``HEALTHHUB_SCREENSHOTS`` (``make screenshots`` sets docs/screenshots, where
the README shows them from).
"""

from __future__ import annotations

import io
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from websockets.sync.client import connect

from alerts.models import Alert, AlertStatus
from alerts.rules import messages
from consultations import services as consultations
from devices.models import Device
from devices.protocol import ValidReading
from devices.services import readings_store
from simulation.management.commands.seed_demo import DEMO_TOTP_SECRETS, STAFF_LOGINS, WORKER_LOGIN
from simulation.physiology import Physiology, WorkerProfile
from tests.browser.conftest import DESKTOP, PHONE, PageWeight, new_context, off_the_loop, sign_in
from workers.models import Site, StaffRole, Worker

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Longest part of a page kept in a screenshot: enough to show what the page
# is, small enough for the README.
MAX_HEIGHT = {"phone": 2000, "desktop": 1400}
MIN_HEIGHT = {"phone": PHONE["height"], "desktop": DESKTOP["height"]}
DEMO_WORKERS = 40  # five per department: HR's tables show numbers, not "fewer than 5"


@dataclass(frozen=True)
class Shot:
    name: str  # docs/screenshots/<name>-<phone|desktop>.png
    who: str  # "worker", "clinician", "hr" or "" (signed out)
    path: str
    ready: str  # a selector that is there once the page shows its content
    primary: str  # the size the page is made for: its weight is measured there


def readings_history(worker: Worker, device: Device, *, now: datetime, days: int = 30) -> int:
    """A month of a worker's wearable data from the simulator's physiology,
    dense enough for every chart range (30 s buckets over the last hour,
    5 min over the day, 30 min over the week, 2 h over the month): every
    15 s for the last hour, every minute for the 8 hours before, every 5
    minutes for the rest of the day, every 30 minutes before that."""
    tz = ZoneInfo(worker.site.timezone)
    rng = random.Random(f"screenshots-{worker.employee_number}")
    profile = WorkerProfile.random(rng, age=now.year - worker.birth_year, shift_pattern=worker.shift_pattern, crew=0)
    steps = [
        (now - timedelta(days=days), timedelta(minutes=30)),
        (now - timedelta(days=1), timedelta(minutes=5)),
        (now - timedelta(hours=9), timedelta(minutes=1)),
        (now - timedelta(hours=1), timedelta(seconds=15)),
        (now + timedelta(seconds=1), None),
    ]
    readings: list[ValidReading] = []
    for (start, step), (end, _) in pairwise(steps):
        # A charged battery for today (a month on one model would leave it flat).
        battery = 90.0 if start >= now - timedelta(days=1) else None
        # Every sample carries the slow metrics too (HRV, climate, battery), so
        # that their charts have no gaps either.
        body = Physiology(profile, rng, tz=tz, battery=battery, slow_every=timedelta(0))
        at = start
        while at < end:
            readings.extend(
                ValidReading(index=len(readings), metric=metric, value=float(value), at=at.astimezone(UTC))
                for metric, value in body.sample(at).values.items()
            )
            at += step
    for start in range(0, len(readings), 2000):
        chunk = readings[start : start + 2000]
        readings_store(device_id=device.pk, worker_id=worker.pk, readings=chunk, received_at=now, touch=True)
    return len(readings)


def latest_sample(worker: Worker, device: Device, *, at: datetime) -> None:
    """One reading of everything at ``at`` (so the device was last seen then)."""
    rng = random.Random(f"now-{worker.employee_number}")
    profile = WorkerProfile.random(rng, shift_pattern=worker.shift_pattern, crew=0)
    sample = Physiology(profile, rng).sample(at)
    readings = [
        ValidReading(index=i, metric=metric, value=float(value), at=at.astimezone(UTC))
        for i, (metric, value) in enumerate(sample.values.items())
    ]
    readings_store(device_id=device.pk, worker_id=worker.pk, readings=readings, received_at=at, touch=True)


def press(server, token: str, metric: str) -> None:
    """A wearable sends an event (sos, fall) over the device protocol."""
    with connect(server.ws_url(), additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
        at = datetime.now(UTC).replace(microsecond=0).isoformat()
        frame = {"type": "readings", "seq": 1, "sent_at": at, "readings": [{"metric": metric, "value": 1, "at": at}]}
        ws.send(orjson.dumps(frame).decode())
        assert orjson.loads(ws.recv(timeout=10))["accepted"] == 1
        assert orjson.loads(ws.recv(timeout=10))["type"] == "alert"  # the rules raised one, and told the wearable


def open_alert(worker: Worker, kind: str, severity: str, message: str, *, minutes_ago: int) -> Alert:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Alert.objects.create(
        worker=worker, kind=kind, severity=severity, message=message, opened_at=at, updated_at=at, evidence={}
    )


def demo_plant(tmp_path: Path) -> dict:
    """The demo plant (manage.py seed_demo, seed_history --outbreak), a month
    of readings for the demo worker, a recent reading from most wearables,
    a few alerts and a consultation in progress."""
    call_command("seed_demo", workers=DEMO_WORKERS, devices_file=tmp_path / "devices.json", stdout=io.StringIO())
    call_command("seed_history", site="gumi-1", weeks=6, outbreak=True, stdout=io.StringIO())
    site = Site.objects.get(code="gumi-1")
    workers = {w.employee_number: w for w in Worker.objects.filter(site=site).select_related("user", "site")}
    devices = {d.worker_id: d for d in Device.objects.filter(worker__site=site)}
    tokens = {item["employee_number"]: item["token"] for item in orjson.loads((tmp_path / "devices.json").read_bytes())}
    now = timezone.now()
    me = workers["GM-0001"]
    assert readings_history(me, devices[me.pk], now=now) > 10_000
    silent = {"GM-0007", "GM-0013", "GM-0026"}
    for number, worker in workers.items():
        if number == "GM-0001":
            continue
        at = now - (
            timedelta(minutes=47) if number in silent else timedelta(seconds=random.Random(number).randint(5, 50))
        )
        latest_sample(worker, devices[worker.pk], at=at)
    clara = get_user_model().objects.get(username=STAFF_LOGINS[StaffRole.CLINICIAN].username)
    open_alert(me, "rest_overdue", "warning", messages.REST_OVERDUE, minutes_ago=12)
    open_alert(workers["GM-0003"], "heat_strain", "urgent", messages.HEAT_STRAIN, minutes_ago=4)
    ack = open_alert(workers["GM-0012"], "hypoxemia", "warning", messages.HYPOXEMIA, minutes_ago=25)
    ack.status, ack.acknowledged_at, ack.acknowledged_by = AlertStatus.ACKNOWLEDGED, now, clara
    ack.save()
    open_alert(workers["GM-0020"], "low_battery", "info", messages.LOW_BATTERY, minutes_ago=40)
    consultation = consultations.consultation_request(
        worker=me, reason="오후부터 머리가 아프고 조금 어지러워요. 일을 계속해도 될까요?", urgency="soon"
    )
    consultations.consultation_take(consultation_id=consultation.pk, clinician=clara)
    for sender, body in (
        (clara, "안녕하세요, 보건실 이서연입니다. 물은 충분히 드셨어요?"),
        (me.user, "오전에 한 병 마셨어요. 작업장이 많이 더워요."),
        (clara, "지금 바로 그늘에서 20분 쉬시고 물을 한 컵 더 드세요."),
        (me.user, "네, 알겠습니다. 휴게실로 갈게요."),
    ):
        consultations.message_send(consultation_id=consultation.pk, sender=sender, body=body)
    consultations.messages_mark_read(consultation_id=consultation.pk, reader=clara)
    consultations.messages_mark_read(consultation_id=consultation.pk, reader=me.user)
    consultations.recommendation_add(
        consultation_id=consultation.pk,
        author=clara,
        body="20분 휴식 후 체온을 다시 재고, 37.5 °C 이상이면 보건실로 오세요.",
    )
    consultations.note_add(
        consultation_id=consultation.pk, author=clara, body="열 스트레스 의심. 휴식 후 재평가. 수분 섭취 부족."
    )
    return {"site": site, "me": me, "tokens": tokens, "workers": workers, "consultation": consultation}


def test_every_main_page_at_phone_and_desktop_size(browser, server, browser_metrics, tmp_path):
    out = Path(os.environ.get("HEALTHHUB_SCREENSHOTS") or tmp_path / "screenshots")
    if not out.is_absolute():
        out = Path(__file__).resolve().parents[2] / out
    out.mkdir(parents=True, exist_ok=True)
    plant = off_the_loop(demo_plant, tmp_path)
    # One alert the real way: a wearable's SOS, through ingestion and the rules.
    press(server, plant["tokens"]["GM-0005"], "sos")
    assert Alert.objects.filter(worker=plant["workers"]["GM-0005"], kind="sos").exists()

    consultation = f"/consultations/{plant['consultation'].pk}/"
    shots = [
        Shot("login", "", "/accounts/login/", "input[name=username]", "phone"),
        # The clinician's pages first: their reads land in the worker's "who viewed my data".
        Shot("desk-triage", "clinician", "/desk/", "#live.on", "desktop"),
        Shot("desk-worker", "clinician", f"/workers/{plant['me'].pk}/", "#charts figure.chart canvas", "desktop"),
        Shot("desk-site", "clinician", f"/desk/sites/{plant['site'].pk}/", "#on-shift", "desktop"),
        Shot("desk-consultation", "clinician", consultation, "#chat-log li.msg", "desktop"),
        Shot("hr-insights", "hr", "/insights/?weeks=6", "section[id^=table-] table", "desktop"),
        Shot("portal-today", "worker", "/me/", "#alert-list li[data-id]", "phone"),
        Shot("portal-checkin", "worker", "/me/checkin/", "form.checkin-form", "phone"),
        Shot("portal-privacy", "worker", "/me/privacy/", "#access-log", "phone"),
        Shot("portal-consultation", "worker", consultation, "#chat-log li.msg", "phone"),
    ]
    logins = {
        "worker": (WORKER_LOGIN.username, WORKER_LOGIN.password),
        "clinician": (STAFF_LOGINS[StaffRole.CLINICIAN].username, STAFF_LOGINS[StaffRole.CLINICIAN].password),
        "hr": (STAFF_LOGINS[StaffRole.HR].username, STAFF_LOGINS[StaffRole.HR].password),
    }
    sessions = {}
    for who, (username, password) in logins.items():
        context = new_context(browser, server, phone=False)
        sign_in(context.new_page(), username, password, totp_secret=DEMO_TOTP_SECRETS.get(username))
        sessions[who] = context.storage_state()
        context.close()

    started = time.monotonic()
    for shot in shots:
        for size in ("phone", "desktop"):
            # A fresh context for every load: a cold cache, as on a first visit.
            context = new_context(browser, server, phone=size == "phone", storage_state=sessions.get(shot.who))
            try:
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                weight = PageWeight(page)
                response = page.goto(shot.path)
                assert response is not None and response.status == 200, f"{shot.name}: {response and response.status}"
                assert page.url.endswith(shot.path), f"{shot.name} ended on {page.url}"
                expect(page.locator(shot.ready).first).to_be_visible()
                try:
                    page.wait_for_load_state("networkidle", timeout=5000)
                except Exception:  # a page that polls may never be idle for long: its first load is done anyway
                    pass
                measured = weight.done()
                assert not weight.failed, weight.failed
                assert not errors, f"{shot.name} ({size}): {errors}"
                assert page.locator("html").get_attribute("lang") == "ko"
                if size == "phone" and shot.primary == "phone":
                    # Made for phones: nothing sticks out sideways at 360 px.
                    overflow = page.evaluate("document.documentElement.scrollWidth")
                    assert overflow <= PHONE["width"], f"{shot.name} is {overflow} px wide on a phone"
                if size == shot.primary:
                    browser_metrics.page_weights[f"{shot.name} ({size})"] = measured
                # A viewport as tall as the page (up to a limit) rather than a
                # full-page capture, so that what is fixed to the bottom of a
                # phone's screen (the portal's tabs) stays at the bottom.
                width = PHONE["width"] if size == "phone" else DESKTOP["width"]
                height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT[size])
                page.set_viewport_size({"width": width, "height": max(height, MIN_HEIGHT[size])})
                page.wait_for_timeout(300)  # charts and grids refit to the new size
                page.screenshot(path=out / f"{shot.name}-{size}.png", animations="disabled", caret="hide")
            finally:
                context.close()
    assert time.monotonic() - started < 120
    assert len(list(out.glob("*.png"))) >= 2 * len(shots)
