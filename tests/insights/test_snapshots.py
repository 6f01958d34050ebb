"""Snapshots of closed periods: taken once a day or week has closed (and
its grace hour passed), never changed afterwards, and the only thing HR
pages read."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Reading, ReadingMinute
from insights.models import PeriodKind, PeriodSnapshot
from insights.selectors import closed_weeks, hr_tables, last_closed_day
from insights.services import snapshots_take
from insights.tasks import take_snapshots
from tests.factories import WorkerFactory
from workers.models import CheckIn, Shift

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
MONDAY = date(2026, 11, 16)


@pytest.fixture
def crew(alice, alice_device):
    """Alice and 9 colleagues, each with a day shift on Monday the 16th and
    alice's wearable sending one reading; a colleague's summary minute only."""
    workers = [alice] + [WorkerFactory(department=alice.department) for _ in range(9)]
    start = datetime(2026, 11, 16, 8, 0, tzinfo=SEOUL)
    for worker in workers:
        Shift.objects.create(worker=worker, starts_at=start, ends_at=start + timedelta(hours=9))
    return workers


def test_a_day_closes_at_local_midnight_plus_the_grace_hour(site_a):
    # 00:30 in Seoul on Tuesday: Monday is not closed yet; 01:30: it is
    assert last_closed_day(site_a, datetime(2026, 11, 24, 0, 30, tzinfo=SEOUL)) == date(2026, 11, 22)
    assert last_closed_day(site_a, datetime(2026, 11, 24, 1, 30, tzinfo=SEOUL)) == date(2026, 11, 23)
    # a week closes with its Sunday
    assert closed_weeks(site_a, 1, datetime(2026, 11, 23, 0, 59, tzinfo=SEOUL)) == [date(2026, 11, 9)]
    assert closed_weeks(site_a, 2, datetime(2026, 11, 23, 1, 0, tzinfo=SEOUL)) == [date(2026, 11, 9), MONDAY]


def test_snapshots_are_taken_once_and_never_change(crew, site_a):
    after = datetime(2026, 11, 23, 2, 0, tzinfo=SEOUL)
    made = snapshots_take(site=site_a, now=after, weeks=1, days=2)
    assert {(s.kind, s.start) for s in made} == {
        (PeriodKind.WEEK, MONDAY),
        (PeriodKind.DAY, date(2026, 11, 21)),
        (PeriodKind.DAY, date(2026, 11, 22)),
    }
    first = hr_tables(site_a, "department", 1, now=after)
    # a late check-in for the closed week, and the next run of the task
    for worker in crew[:6]:
        CheckIn.objects.create(worker=worker, day=MONDAY, cough=True, submitted_at=after)
    assert snapshots_take(site=site_a, now=after + timedelta(minutes=15), weeks=1, days=2) == []
    again = hr_tables(site_a, "department", 1, now=after + timedelta(minutes=15))
    assert [t.values for t in again["tables"]] == [t.values for t in first["tables"]]
    assert PeriodSnapshot.objects.count() == 3


def test_hr_pages_read_only_snapshots(client, crew, hana, site_a):
    with time_machine.travel(datetime(2026, 11, 23, 2, 0, tzinfo=SEOUL), tick=False):
        client.force_login(hana)
        before = client.get("/insights/?weeks=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "2026-11-16" in before and "Weeks not summarised yet" in before
        assert take_snapshots() == 12 + 28  # the default back-fill: 12 weeks, 28 days
        page = client.get("/insights/?weeks=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Weeks not summarised yet" not in page
        # a page of 52 weeks costs the same few queries as one of 1: no live rows read
        with CaptureQueriesContext(connection) as one:
            client.get("/insights/?weeks=1")
        with CaptureQueriesContext(connection) as many:
            client.get("/insights/?weeks=52")
    tables = {q["sql"].split('FROM "')[1].split('"')[0] for q in many.captured_queries if 'FROM "' in q["sql"]}
    assert not tables & {"devices_reading", "workers_checkin", "workers_shift", "alerts_alert"}
    assert len(many.captured_queries) == len(one.captured_queries) <= 12


def test_workers_monitored_counts_readings_and_summaries_of_past_weeks(crew, alice_device, site_a):
    device, _token = alice_device
    at = datetime(2026, 11, 16, 9, 0, tzinfo=SEOUL)
    Reading.objects.create(device=device, worker=crew[0], metric="heart_rate", value=70, measured_at=at, received_at=at)
    for worker in crew[1:6]:  # their raw readings have passed retention: minute summaries remain
        ReadingMinute.objects.create(worker=worker, metric="heart_rate", minute=at, count=6, mean=72, min=70, max=75)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    snapshots_take(site=site_a, now=now, weeks=1, days=1)
    monitored = next(t for t in hr_tables(site_a, "department", 1, now=now)["tables"] if t.key == "participation")
    assert monitored.shown(crew[0].department_id, MONDAY) == "6"
    assert monitored.shown(None, MONDAY) == "6"


def test_the_markers_are_explained_in_both_languages(client, crew, hana, site_a):
    with time_machine.travel(datetime(2026, 11, 23, 2, 0, tzinfo=SEOUL), tick=False):
        snapshots_take(site=site_a, weeks=1, days=1)
        client.force_login(hana)
        english = client.get("/insights/?weeks=1", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        korean = client.get("/insights/?weeks=1", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '<th scope="row">·</th><td>no rate: nothing to divide by' in english
    assert '<th scope="row">—</th><td>hidden:' in english
    assert '<th scope="row">·</th><td>비율 없음' in korean


def test_a_rebuild_replaces_only_the_periods_asked_for(crew, site_a):
    now = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    snapshots_take(site=site_a, now=now, weeks=2, days=16)
    before = set(PeriodSnapshot.objects.values_list("kind", "start"))
    made = snapshots_take(site=site_a, now=now, weeks=1, days=16, rebuild=True)
    assert len(made) == 1 + 16  # the week of the 9th is in the window of days, not of weeks
    assert set(PeriodSnapshot.objects.values_list("kind", "start")) == before
