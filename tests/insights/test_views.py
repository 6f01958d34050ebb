"""HR insights pages: aggregates from real rows, suppression applied, CSV
equal to the page, and no route to anyone's individual data. The pages
read snapshots of closed weeks and days (insights.services.snapshots_take)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from alerts.models import Alert
from insights.models import ClusterSignal
from insights.selectors import hr_signals, hr_tables
from insights.services import signals_detect, snapshots_take
from tests.factories import DepartmentFactory, WorkerFactory
from workers.models import CheckIn, Shift

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
TODAY = date(2026, 11, 25)  # a Wednesday
MONDAY = date(2026, 11, 23)
# The week of MONDAY has closed (Sunday 29th ended, and the grace hour passed).
AFTER_THE_WEEK = datetime(2026, 12, 1, 9, 0, tzinfo=SEOUL)


def tables(site, grouping="department", weeks=2, now=AFTER_THE_WEEK):
    snapshots_take(site=site, now=now, weeks=weeks, days=2)
    return hr_tables(site, grouping, weeks, now=now)


@pytest.fixture
def plant(site_a, alice):
    """Assembly: alice + 6 colleagues; Press: 5 workers; Paint: 3 workers (a small group)."""
    assembly = alice.department
    crew = [alice] + [WorkerFactory(department=assembly) for _ in range(6)]
    press = DepartmentFactory(site=site_a, name="Press")
    pressers = [WorkerFactory(department=press) for _ in range(5)]
    paint = DepartmentFactory(site=site_a, name="Paint")
    painters = [WorkerFactory(department=paint) for _ in range(3)]
    start = datetime(2026, 11, 23, 8, 0, tzinfo=SEOUL)
    for worker in crew + pressers + painters:
        for day in range(2):  # Monday and Tuesday shifts
            Shift.objects.create(
                worker=worker, starts_at=start + timedelta(days=day), ends_at=start + timedelta(days=day, hours=9)
            )
    # alerts: 6 assembly workers one each on Monday, one painter
    for worker in crew[:6] + painters[:1]:
        Alert.objects.create(
            worker=worker, kind="hypoxemia", severity="warning", message="m", opened_at=start + timedelta(hours=2),
            updated_at=start,
        )  # fmt: skip
    for worker in crew[:5]:
        CheckIn.objects.create(worker=worker, day=MONDAY, temperature=36.5, cough=worker is alice, submitted_at=start)
    return {"assembly": assembly, "press": press, "paint": paint, "crew": crew, "painters": painters}


def cell(data, key, row, week=MONDAY):
    metric = next(t for t in data["tables"] if t.key == key)
    return metric.shown(row, week)


def test_aggregates_by_department_with_small_groups_hidden(plant, site_a):
    data = tables(site_a)
    assembly, paint = plant["assembly"].pk, plant["paint"].pk
    assert cell(data, "worker_shifts", assembly) == "14"  # 7 workers x 2 shifts
    assert cell(data, "worker_shifts", paint) == "—"  # 3 workers: hidden
    assert cell(data, "alerts", paint) == "—"
    # 5 check-ins, all in Assembly; the week's total (5 of 30 shifts) is shown.
    # Paint's hidden 0 would be the total minus Assembly minus Press (3 workers
    # who did not check in): Assembly, the only positive partner, is hidden too.
    assert cell(data, "checkins", paint) == "—" and cell(data, "checkins", assembly) == "—"
    metric = next(t for t in data["tables"] if t.key == "checkins")
    assert metric.shown(None, MONDAY) == f"{100 * 5 / 30:.1f}"
    assert cell(data, "checkins", plant["press"].pk) == "0"
    # 1 symptomatic check-in: a cell of one worker is hidden
    assert cell(data, "symptomatic", assembly) == "—"


def test_a_figure_nearly_all_of_a_group_shares_is_hidden(plant, site_a):
    # 6 of Assembly's 7 workers had an alert: "6 of 7" discloses nearly everyone
    data = tables(site_a)
    assert cell(data, "alerts", plant["assembly"].pk) == "—"
    metric = next(t for t in data["tables"] if t.key == "alerts")
    # the week's total (7 alerts of 15 workers, over 30 shifts) is not homogeneous
    assert metric.shown(None, MONDAY) == f"{100 * 7 / 30:.1f}"


def test_complementary_suppression_protects_the_totals(plant, site_a):
    data = tables(site_a)
    shifts = next(t for t in data["tables"] if t.key == "worker_shifts")
    # Paint (6 shifts) is hidden and the week's total (30) is shown: Press, the
    # smallest other row (10), is hidden too, or 30 - 14 - 10 would give Paint back.
    assert shifts.shown(None, MONDAY) == "30"
    assert shifts.shown(plant["paint"].pk, MONDAY) == "—"
    assert shifts.shown(plant["press"].pk, MONDAY) == "—"
    assert shifts.shown(plant["assembly"].pk, MONDAY) == "14"


def test_hr_page_and_csv_show_the_same_suppressed_numbers(client, plant, hana, site_a):
    snapshots_take(site=site_a, weeks=3, days=1)  # the page shows the closed weeks before today
    client.force_login(hana)
    page = client.get(f"/insights/?site={site_a.pk}&weeks=2").content.decode()
    assert "Assembly" in page and "Paint" in page
    csv_text = client.get(f"/insights/export/worker_shifts.csv?site={site_a.pk}&weeks=2").content.decode("utf-8-sig")
    lines = csv_text.strip().splitlines()
    assert len(lines[0].split(",")) == 3  # the group, then two closed weeks
    # Paint (3 workers) is a small group: hidden in every week, whatever happened
    assert any(line == "Paint,—,—" for line in lines)
    # no names, no employee numbers
    for worker in plant["crew"] + plant["painters"]:
        assert worker.employee_number not in page and worker.employee_number not in csv_text


@pytest.mark.parametrize("who", ["alice", "adam", "carl"])
def test_insights_are_for_hr_and_clinicians_of_the_site(client, plant, alice, adam, carl, site_a, who):
    client.force_login({"alice": alice.user, "adam": adam, "carl": carl}[who])
    assert client.get(f"/insights/?site={site_a.pk}").status_code == 404
    if who == "carl":  # a clinician of another site sees their own site, never site A
        response = client.get("/insights/")
        assert response.status_code == 200 and "Assembly" not in response.content.decode()


def test_unknown_table_is_404(client, hana):
    client.force_login(hana)
    assert client.get("/insights/export/nonsense.csv").status_code == 404


@pytest.fixture
def outbreak(plant, site_a):
    """Nine quiet days, then five assembly workers with fever on one day."""
    day = TODAY
    for worker in plant["crew"][:5]:
        CheckIn.objects.update_or_create(
            worker=worker, day=day, defaults={"temperature": 38.1, "fever": True, "submitted_at": timezone.now()}
        )
    return signals_detect(site=site_a, today=day)


def test_an_outbreak_raises_a_signal_with_counts_only(outbreak, plant, site_a):
    kinds = {(s.department_id, s.kind) for s in outbreak}
    assert (plant["assembly"].pk, "fever") in kinds and (None, "fever") in kinds
    site_signal = ClusterSignal.objects.get(site=site_a, department=None, kind="fever", day=TODAY)
    assert site_signal.count == 5 and site_signal.expected == 0.0
    # idempotent
    signals_detect(site=site_a, today=TODAY)
    assert ClusterSignal.objects.filter(day=TODAY).count() == len(outbreak)


def test_clinician_sees_the_workers_behind_a_signal_and_hr_does_not(client, outbreak, plant, clara, hana, site_a):
    signal = ClusterSignal.objects.get(department=plant["assembly"], kind="fever")
    client.force_login(hana)
    assert client.get(f"/insights/signals/{signal.pk}/").status_code == 404
    with time_machine.travel(datetime(2026, 11, 25, 15, 0, tzinfo=SEOUL), tick=False):
        snapshots_take(site=site_a, days=3, weeks=1)
        client.force_login(hana)
        assert "발열" not in client.get("/insights/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()  # the day is open
    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=SEOUL), tick=False):
        snapshots_take(site=site_a, days=3, weeks=1)
        client.force_login(hana)
        overview = client.get("/insights/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
        shown = hr_signals(site_a)
    assert "발열" in overview
    assert plant["crew"][0].employee_number not in overview
    # 5 of Assembly's 7 workers: homogeneous, so Assembly's signal is not listed;
    # the site's 5 of 15 is, with its count
    assert [(s.where, s.kind, s.count) for s in shown if s.kind == "fever"] == [(site_a.name, "fever", 5)]
    client.force_login(clara)
    page = client.get(f"/insights/signals/{signal.pk}/").content.decode()
    for worker in plant["crew"][:5]:
        assert worker.employee_number in page
    assert plant["crew"][5].employee_number not in page


def test_consultations_and_outcomes_are_counted_and_suppressed(plant, site_a, clara):
    from consultations.models import Consultation

    start = datetime(2026, 11, 23, 10, 0, tzinfo=SEOUL)
    for worker in plant["crew"][:6]:
        Consultation.objects.create(
            worker=worker,
            clinician=clara,
            reason="r",
            requested_at=start,
            status="closed",
            outcome="fit_for_work",
            closed_at=start,
        )
    Consultation.objects.create(
        worker=plant["crew"][6],
        clinician=clara,
        reason="r",
        requested_at=start,
        status="closed",
        outcome="go_home",
        closed_at=start,
    )
    data = tables(site_a)
    # all 7 of Assembly asked for a consultation: homogeneous, so hidden
    assert cell(data, "consultations", plant["assembly"].pk) == "—"
    outcomes = next(t for t in data["tables"] if t.key == "outcomes")
    assert outcomes.shown("go_home", MONDAY) == "—"  # one worker
    # the week's total (7) is shown, so "fit for work" (6) is hidden too: 7 - 6 would give 1 back
    assert outcomes.shown(None, MONDAY) == "7"
    assert outcomes.shown("fit_for_work", MONDAY) == "—"
