"""Outbreak notices (insights.services.notices_post): when a site's outbreak
signal fires, that site's workers, and only they, get one notice per signal
day with what to do, naming nobody and no count."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from healthhub.live import worker_group
from insights.models import SiteNotice
from insights.services import NOTICE_DAYS, notices_post, signals_detect
from tests.factories import WorkerFactory
from workers.models import CheckIn

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture(autouse=True)
def fresh_climate_cache():
    """The site's air is cached per site id, and ids repeat between tests."""
    cache.clear()
    yield
    cache.clear()


TODAY = date(2026, 11, 25)
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=SEOUL)


@pytest.fixture
def crew(alice, bob):
    """alice, bob and five more colleagues at plant A."""
    return [alice, bob] + [WorkerFactory(department=alice.department) for _ in range(5)]


@pytest.fixture
def outbreak(crew, site_a):
    """Quiet days, then five of the crew with fever today: the site signals."""
    with time_machine.travel(NOON, tick=False):
        for worker in crew[2:7]:
            CheckIn.objects.create(worker=worker, day=TODAY, temperature=38.2, fever=True, submitted_at=timezone.now())
        signals_detect(site=site_a, today=TODAY)
    return crew[2:7]


def test_a_signal_posts_one_notice_for_its_site_and_day(outbreak, site_a, site_b):
    notices = SiteNotice.objects.all()
    assert [(n.site_id, n.day) for n in notices] == [(site_a.pk, TODAY)]
    notice = notices[0]
    assert notice.expires_at == datetime(2026, 12, 2, 0, 0, tzinfo=SEOUL)  # NOTICE_DAYS after the signal day
    # the detector runs again (every beat, or a second Celery worker): no second notice
    with time_machine.travel(NOON + timedelta(hours=1), tick=False):
        signals_detect(site=site_a, today=TODAY)
    assert SiteNotice.objects.count() == 1


def test_a_notice_is_not_posted_for_a_day_whose_showing_is_over(site_a):
    old_day = TODAY - timedelta(days=NOTICE_DAYS)
    assert notices_post(site=site_a, days={old_day}, today=TODAY, now=NOON) == []
    assert notices_post(site=site_a, days={TODAY - timedelta(days=1)}, today=TODAY, now=NOON)


def test_the_notice_shows_to_the_sites_workers_only_and_names_nobody(client, outbreak, alice, charlie):
    ill_names = {w.user.get_full_name() for w in outbreak} | {w.employee_number for w in outbreak}
    with time_machine.travel(NOON + timedelta(hours=2), tick=False):
        client.force_login(alice.user)
        page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "More illness than usual at your site" in page
        assert 'id="site-notice" aria-labelledby="notice-title">' in page  # shown, not hidden
        assert reverse("portal:guide", args=["outbreak"]) in page
        assert reverse("portal:checkin") in page
        for name in ill_names:
            assert name not in page
        assert ">5<" not in page and " 5 " not in page  # no count
        client.force_login(charlie.user)  # another site's worker
        other = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="site-notice" aria-labelledby="notice-title" hidden>' in other


def test_the_notice_expires(client, outbreak, alice):
    with time_machine.travel(datetime(2026, 12, 1, 23, 0, tzinfo=SEOUL), tick=False):
        client.force_login(alice.user)
        page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="site-notice" aria-labelledby="notice-title">' in page
    with time_machine.travel(datetime(2026, 12, 2, 0, 1, tzinfo=SEOUL), tick=False):
        client.force_login(alice.user)
        page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="site-notice" aria-labelledby="notice-title" hidden>' in page


def test_korean_notice(client, outbreak, alice):
    with time_machine.travel(NOON + timedelta(hours=2), tick=False):
        client.force_login(alice.user)
        page = client.get(reverse("portal:today"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "사업장에 평소보다 아픈 사람이 많습니다" in page


@pytest.mark.django_db(transaction=True)
def test_a_new_notice_is_pushed_to_each_workers_portal_after_commit(site_a, site_b, consent_text):
    from tests.factories import DepartmentFactory

    here = WorkerFactory(department=DepartmentFactory(site=site_a, name="Assembly"))
    there = WorkerFactory(department=DepartmentFactory(site=site_b, name="Molding"))
    layer = get_channel_layer()

    async def received(channel: str) -> list[dict]:
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                return got

    async def scenario() -> tuple[list[dict], list[dict], list[dict]]:
        # One event loop for the whole exchange: a Redis layer's receive
        # buffers belong to the loop that made them.
        here_channel, there_channel = await layer.new_channel(), await layer.new_channel()
        await layer.group_add(worker_group(here.pk), here_channel)
        await layer.group_add(worker_group(there.pk), there_channel)
        await sync_to_async(notices_post)(site=site_a, days={TODAY}, today=TODAY, now=NOON)
        first_round, there_round = await received(here_channel), await received(there_channel)
        await sync_to_async(notices_post)(site=site_a, days={TODAY}, today=TODAY, now=NOON)
        return first_round, there_round, await received(here_channel)

    first_round, there_round, second_round = async_to_sync(scenario)()
    [first] = first_round
    assert first["type"] == "notice.posted"
    assert set(first["notice"]) == {"id", "day", "expires_at"}  # nothing about anyone
    assert there_round == []  # the other site's worker hears nothing
    assert second_round == []  # posting the same day again pushes nothing


def test_a_new_notice_goes_to_the_lock_screens_of_the_sites_workers_naming_no_illness(
    monkeypatch, site_a, alice, bob, charlie, django_capture_on_commit_callbacks
):
    from alerts.models import PushSubscription

    sent = []
    monkeypatch.setattr(
        "alerts.notify.services.push_send", lambda target, payload, **kw: sent.append((target, payload))
    )
    for worker in (alice, charlie):
        PushSubscription.objects.create(
            user=worker.user, name="phone", endpoint=f"https://push.example/{worker.pk}", p256dh="k", auth="a"
        )
    with django_capture_on_commit_callbacks(execute=True):
        notices_post(site=site_a, days={TODAY}, today=TODAY, now=NOON)
    assert [target.endpoint for target, _ in sent] == [f"https://push.example/{alice.pk}"]  # charlie: another site
    text = " ".join(str(v) for v in sent[0][1].values()).lower()
    for illness in ("fever", "ill", "outbreak", "covid", "flu", "열", "감염"):
        assert illness not in text.replace("healthhub", "")
    assert sent[0][1]["url"] == reverse("portal:today")
    # the same day again: nothing more
    with django_capture_on_commit_callbacks(execute=True):
        notices_post(site=site_a, days={TODAY}, today=TODAY, now=NOON)
    assert len(sent) == 1
