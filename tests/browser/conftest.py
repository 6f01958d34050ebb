"""Browser tests: headless Chromium (Debian's ``chromium`` package, never a
browser downloaded by ``playwright install``) driven by Playwright's sync
API, against a real uvicorn server (tests/live.py) on the test database.

Run them on their own: ``pytest -m browser`` (``make test`` leaves them out).

- ``browser``: one Chromium for the whole run; each test opens its own
  contexts (a phone for the worker, a desktop for the clinician), so
  cookies and storage never leak between people or tests.
- ``server``: the ASGI server for one test: the embedded defaults (the
  in-memory channel layer, tasks in-process), or Redis when ``REDIS_URL``
  is set.
- ``new_context``: a phone (360x740) or desktop (1366x900) context in Korean.
- ``sign_in``: through the real login form (the cast's password is "pw"),
  and the authenticator-app step for users that have one.
- ``off_the_loop``: for test-side services that publish to the channel layer.
- ``PageWeight``: what one page load transferred (response bodies as they
  came over the wire), from Playwright's network events.
- ``browser_metrics``: figures the tests measured, printed at the end of the
  run (time to first live update, page weights).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections

from tests.live import AsgiServer, database_url

CHROMIUM = os.environ.get("HEALTHHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # The machine has no network beyond 127.0.0.1: nothing to phone home to.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    # Video calls: a synthetic camera and microphone, granted without a prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
WAIT_MS = 15_000  # generous for a person, bounded for CI
PASSWORD = "pw"  # tests.factories.UserFactory's

# Playwright's sync API runs its event loop in this thread (in a greenlet),
# so Django sees "a running event loop" and refuses ORM calls from the test
# body. The test process only prepares data and reads results; the server
# runs in its own process without this switch (see ``server``).
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

T = TypeVar("T")


def off_the_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function`` in a thread of its own: for services that publish to
    the channel layer (async_to_sync refuses a thread with a running loop,
    and this one has Playwright's). The thread's database connection is
    closed afterwards."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@dataclass
class Metrics:
    """Figures measured during the run, printed in the terminal summary and
    written to var/browser-metrics.json."""

    live_ms: dict[str, float] = field(default_factory=dict)
    page_weights: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The walk (test_walk.py): each page's time to first byte and first
    # contentful paint in ms, and its counts.
    page_timings: dict[str, dict[str, float | None]] = field(default_factory=dict)
    walk: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "time_to_first_live_update_ms": self.live_ms,
            "page_weights": self.page_weights,
            "walk": self.walk,
            "page_timings_ms": self.page_timings,
        }


_METRICS = Metrics()


@pytest.fixture(scope="session")
def browser_metrics() -> Metrics:
    return _METRICS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not (_METRICS.live_ms or _METRICS.page_weights or _METRICS.page_timings):
        return
    write = terminalreporter.write_line
    terminalreporter.section("browser measurements")
    for name, ms in _METRICS.live_ms.items():
        write(f"{name}: {ms:.0f} ms")
    for name, weight in sorted(_METRICS.page_weights.items()):
        write(
            f"{name}: {weight['bytes'] / 1024:.1f} KiB in {weight['requests']} responses "
            f"(html {weight['document'] / 1024:.1f} KiB, scripts {weight['script'] / 1024:.1f} KiB, "
            f"css {weight['stylesheet'] / 1024:.1f} KiB, other {weight['other'] / 1024:.1f} KiB)"
        )
    if _METRICS.walk:
        write(f"walk: {_METRICS.walk}")
    for name, timing in sorted(_METRICS.page_timings.items()):
        ttfb, fcp = timing.get("ttfb"), timing.get("fcp")
        write(f"{name}: first byte {ttfb or 0:.0f} ms, first paint {fcp or 0:.0f} ms")
    out = Path(__file__).resolve().parents[2] / "var" / "browser-metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_METRICS.as_dict(), indent=2, ensure_ascii=False) + "\n")
    write(f"(also in {out.relative_to(out.parents[1])})")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium fonts-noto-cjk (or set HEALTHHUB_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if before is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = before


@pytest.fixture
def server(transactional_db, tmp_path) -> Iterator[AsgiServer]:
    """The real server on the test database for one test. It gets the test
    process's environment less the async-unsafe switch (the server must stay
    honest about its own async code); REDIS_URL passes through when set."""
    from django.db import connection

    server = AsgiServer(
        database_url=database_url(connection.settings_dict),
        env={ASYNC_UNSAFE: None},
        log_path=tmp_path / "asgi.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def new_context(browser, server: AsgiServer, *, phone: bool, **options):
    """A fresh browser context (its own cookies) at phone or desktop size, in
    Korean, the default. Service workers are blocked so that every load goes
    to the server and is measured the same way; the portal's own tests cover
    the service worker."""
    context = browser.new_context(
        base_url=server.http_url,
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
        locale="ko-KR",
        timezone_id="Asia/Seoul",
        service_workers="block",
        **options,
    )
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context


def sign_in(page, username: str, password: str = PASSWORD, *, totp_secret: str | None = None) -> None:
    """Sign in through the login form, as a person would, and, for a user
    with an authenticator app, the code step (the code computed from
    ``totp_secret``, as the app would); returns on the page the login sent
    them to."""
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("form[action='/accounts/login/'] button[type=submit]").click()
    if totp_secret is not None and "/accounts/2fa/authenticate/" in page.url:
        from allauth.mfa import app_settings as mfa_settings

        from accounts.policy import totp_code

        # A code about to expire might reach the server in the next period.
        if mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD < 2:
            time.sleep(2)
        page.locator("input[name=code]").fill(totp_code(totp_secret, time.time()))
        with page.expect_navigation():
            page.locator("input[name=code]").press("Enter")
    assert "/accounts/" not in page.url, f"{username} could not sign in: {page.url}"


class PageWeight:
    """Bytes of response bodies as transferred (after any compression) for
    the requests a page makes while it loads, grouped by resource type.
    Attach before the navigation; ``done()`` detaches and returns the total."""

    def __init__(self, page) -> None:
        self.page = page
        self.by_type: dict[str, int] = {}
        self.requests = 0
        self.failed: list[str] = []
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _finished(self, request) -> None:
        size = request.sizes()["responseBodySize"]
        kind = request.resource_type
        kind = kind if kind in ("document", "script", "stylesheet") else "other"
        self.by_type[kind] = self.by_type.get(kind, 0) + max(0, size)
        self.requests += 1

    def _failed(self, request) -> None:
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def done(self) -> dict[str, Any]:
        self.page.remove_listener("requestfinished", self._finished)
        self.page.remove_listener("requestfailed", self._failed)
        return {
            "bytes": sum(self.by_type.values()),
            "requests": self.requests,
            **{kind: self.by_type.get(kind, 0) for kind in ("document", "script", "stylesheet", "other")},
        }
