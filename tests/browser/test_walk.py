"""The walk: every page of every role on the demo plant, at 360 px (a phone)
and 1280 px (a desk), in Korean and in English, in headless Chromium.
A page fails the walk on

- horizontal overflow (the page scrolls sideways),
- a console error or an uncaught script error,
- a failed request or an answer of 400 or more,
- an untranslated string (Korean pages only): a visible text that is, as a
  whole, an English msgid of the catalogue whose Korean differs,
- a tap target under 44 x 44 px (phone width, the pages made for phones:
  the worker's, the clinician's and the sign-in pages; the Django admin is a
  desk tool, and its own widgets are Django's),
- a serious or critical axe-core violation (axe-playwright-python).

Each page's time to first byte and first contentful paint (Navigation and
Paint Timing, from the browser) are recorded in var/browser-metrics.json
and printed at the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings

from simulation.management.commands.seed_demo import DEMO_TOTP_SECRETS, STAFF_LOGINS, WORKER_LOGIN
from tests.browser.conftest import PHONE, new_context, off_the_loop, sign_in
from tests.browser.test_screenshots import demo_plant
from tests.catalogue import english_msgids
from workers.models import StaffRole

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

DESK = {"width": 1280, "height": 800}
LANGUAGES = ("ko", "en")
TAP_MIN_PX = 44
BLOCKING_IMPACTS = {"serious", "critical"}

# What a finger presses: form controls, the navigation, button-like links.
# Radios and checkboxes count through the label row around them.
TAP_TARGETS = """min => {
  const selector = 'button, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), '
    + 'textarea, nav a, a.button, label.tap, .choice, summary';
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (el.closest('[hidden], dialog:not([open]), .visually-hidden, .skip-link')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.width < min - 0.5 || box.height < min - 0.5) {
      const name = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30);
      const id = el.id ? '#' + el.id : '';
      small.push(`${el.tagName.toLowerCase()}${id} "${name}" ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""

# Visible text, one entry per text node (scripts, styles and hidden parts left out).
VISIBLE_TEXTS = """() => {
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if (!text) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, noscript, [hidden], template')) continue;
    if (!parent.getClientRects().length) continue;
    texts.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder], [aria-label], [title]')) {
    for (const name of ['placeholder', 'aria-label', 'title']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) texts.push(value.trim());
    }
  }
  return texts;
}"""

TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {ttfb: nav ? nav.responseStart - nav.startTime : null, fcp: paint ? paint.startTime : null};
}"""


@dataclass
class Page:
    name: str
    who: str  # worker, clinician, hr, site_admin or "" (signed out)
    path: str
    phone_page: bool  # made for phones: tap targets are checked at 360 px


@dataclass
class WalkResult:
    loads: int = 0
    failures: list[str] = field(default_factory=list)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    axe_checked: int = 0


def pages_of(plant: dict) -> list[Page]:
    me, site, consultation = plant["me"], plant["site"], plant["consultation"]
    return [
        Page("login", "", "/accounts/login/", True),
        Page("first-login", "", "/accounts/first-login/", True),
        Page("portal-today", "worker", "/me/", True),
        Page("portal-checkin", "worker", "/me/checkin/", True),
        Page("portal-privacy", "worker", "/me/privacy/", True),
        Page("portal-data", "worker", "/me/data/", True),
        Page("worker-consultations", "worker", "/consultations/", True),
        Page("worker-appointments", "worker", "/me/appointments/", True),
        Page("worker-guides", "worker", "/me/guide/", True),
        Page("worker-consultation-new", "worker", "/consultations/new/", True),
        Page("worker-consultation", "worker", f"/consultations/{consultation.pk}/", True),
        Page("desk-triage", "clinician", "/desk/", True),
        Page("desk-worker", "clinician", f"/workers/{me.pk}/", True),
        Page("desk-site", "clinician", f"/desk/sites/{site.pk}/", True),
        Page("desk-consultations", "clinician", "/consultations/", True),
        Page("desk-appointments", "clinician", "/desk/appointments/", True),
        Page("desk-consultation", "clinician", f"/consultations/{consultation.pk}/", True),
        Page("clinician-security", "clinician", "/accounts/2fa/", True),
        Page("hr-insights", "hr", "/insights/", False),
        Page("admin-index", "site_admin", "/admin/", False),
        Page("admin-workers", "site_admin", "/admin/workers/worker/", False),
        Page("admin-enrol", "site_admin", "/admin/workers/worker/add/", False),
        Page("admin-import", "site_admin", "/admin/workers/worker/import/", False),
        Page("admin-worker", "site_admin", f"/admin/workers/worker/{me.pk}/change/", False),
        Page("admin-consents", "site_admin", "/admin/workers/consent/", False),
        Page("admin-access-log", "site_admin", "/admin/workers/accesslog/", False),
        Page("admin-devices", "site_admin", "/admin/devices/device/", False),
    ]


# 96 page loads with an axe run each: about five minutes on a shared 2-core machine.
@pytest.mark.timeout(900)
def test_every_page_of_every_role_at_both_widths_in_both_languages(browser, server, browser_metrics, tmp_path):
    plant = off_the_loop(demo_plant, tmp_path)
    pages = pages_of(plant)
    # The demo cast's sign-in names ("worker", "clinician") are data, not slips.
    untranslatable = english_msgids() - {login.username for login in (WORKER_LOGIN, *STAFF_LOGINS.values())}
    logins = {
        "worker": WORKER_LOGIN,
        "clinician": STAFF_LOGINS[StaffRole.CLINICIAN],
        "hr": STAFF_LOGINS[StaffRole.HR],
        "site_admin": STAFF_LOGINS[StaffRole.SITE_ADMIN],
    }
    sessions = {}
    for who, login in logins.items():
        context = new_context(browser, server, phone=False)
        sign_in(context.new_page(), login.username, login.password, totp_secret=DEMO_TOTP_SECRETS.get(login.username))
        sessions[who] = context.storage_state()
        context.close()

    axe = Axe()
    result = WalkResult()
    for language in LANGUAGES:
        for width, phone in ((PHONE, True), (DESK, False)):
            for who in ("", "worker", "clinician", "hr", "site_admin"):
                context = new_context(browser, server, phone=phone, storage_state=sessions.get(who))
                context.add_cookies(
                    [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": server.http_url}]
                )
                page = context.new_page()
                page.set_viewport_size(width)
                problems: list[str] = []
                page.on("console", lambda m, p=problems: m.type == "error" and p.append(f"console: {m.text}"))
                page.on("pageerror", lambda e, p=problems: p.append(f"script: {e}"))
                page.on("requestfailed", lambda r, p=problems: p.append(f"failed: {r.url} {r.failure}"))
                page.on("response", lambda r, p=problems: r.status >= 400 and p.append(f"{r.status}: {r.url}"))
                try:
                    for spec in (p for p in pages if p.who == who):
                        label = f"{spec.name} {language} {width['width']}"
                        problems.clear()
                        response = page.goto(spec.path, wait_until="load")
                        result.loads += 1
                        if response is None or response.status != 200 or not page.url.endswith(spec.path):
                            result.failures.append(f"{label}: {response and response.status} at {page.url}")
                            continue
                        page.wait_for_timeout(400)  # live parts connect, late requests land
                        timing = page.evaluate(TIMING)
                        result.timings[label] = timing
                        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                        if overflow > 0:
                            result.failures.append(f"{label}: {overflow} px of horizontal overflow")
                        if language == "ko":
                            slips = sorted({t for t in page.evaluate(VISIBLE_TEXTS) if t in untranslatable})
                            if slips:
                                result.failures.append(f"{label}: untranslated {slips}")
                        if phone and spec.phone_page:
                            small = page.evaluate(TAP_TARGETS, TAP_MIN_PX)
                            if small:
                                result.failures.append(f"{label}: tap targets under 44 px {small[:6]}")
                        # The page's own messages, before axe runs: axe-core's probes
                        # (inline styles it sets) trip the CSP and are not the page's.
                        result.failures.extend(f"{label}: {p}" for p in problems)
                        violations = [
                            v for v in axe.run(page).response["violations"] if v.get("impact") in BLOCKING_IMPACTS
                        ]
                        problems.clear()
                        result.axe_checked += 1
                        for v in violations:
                            targets = [n["target"] for n in v["nodes"][:3]]
                            result.failures.append(f"{label}: axe {v['id']} ({v['impact']}) {targets}")
                finally:
                    context.close()

    for label, timing in result.timings.items():
        browser_metrics.page_timings[label] = timing
    browser_metrics.walk = {"loads": result.loads, "axe_checked": result.axe_checked, "failures": len(result.failures)}
    report = Path(settings.BASE_DIR) / "var" / "walk-failures.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(result.failures) + "\n", encoding="utf-8")
    expected = len(pages) * len(LANGUAGES) * 2
    assert result.loads == expected
    assert result.failures == [], "\n".join(result.failures)
