"""Response times for clinicians and site administrators: median and p90
to acknowledge and to resolve per severity, alerts that reached the last
step of their chain, and the weekly CSV with cells a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.metrics import percentile, response_figures
from alerts.models import Alert
from tests.factories import WorkerFactory, staff

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def alert(worker, severity, *, opened, ack_s=None, resolve_s=None, auto=False, final=False, kind="sos"):
    return Alert.objects.create(
        worker=worker, kind=kind, severity=severity, status="resolved" if resolve_s is not None else "open",
        message="x", opened_at=opened, updated_at=opened,
        acknowledged_at=opened + timedelta(seconds=ack_s) if ack_s is not None else None,
        resolved_at=opened + timedelta(seconds=resolve_s) if resolve_s is not None else None,
        auto_resolved=auto, chain_final_at=opened + timedelta(seconds=300) if final else None,
    )  # fmt: skip


@pytest.fixture
def week(alice, charlie):
    workers = [alice] + [WorkerFactory(department=alice.department) for _ in range(9)]
    # Ten critical alerts acknowledged after 10, 20, ... 100 s; resolved after 10 minutes more.
    for n, worker in enumerate(workers):
        alert(worker, "critical", opened=MONDAY + timedelta(hours=n), ack_s=10 * (n + 1), resolve_s=600 + n,
              final=n >= 8)  # fmt: skip
    alert(alice, "warning", opened=MONDAY, kind="hypoxemia", resolve_s=900, auto=True)
    alert(alice, "warning", opened=MONDAY - timedelta(days=1), kind="fever", ack_s=5)  # the week before
    alert(charlie, "critical", opened=MONDAY, ack_s=1)  # another site


def test_percentiles_are_nearest_rank():
    values = [10.0 * n for n in range(1, 11)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 100)) == (50.0, 90.0, 100.0)
    assert percentile([7.0], 90) == 7.0 and percentile([], 50) is None


def test_figures_per_severity_for_the_site_and_week(alice, week):
    start = MONDAY.replace(hour=0)
    figures = {f.severity: f for f in response_figures([alice.site_id], start, start + timedelta(days=7))}
    critical = figures["critical"]
    assert (critical.alerts, critical.acknowledged, critical.ack_median_s, critical.ack_p90_s) == (10, 10, 50, 90)
    assert (critical.resolved, critical.resolve_median_s, critical.resolve_p90_s) == (10, 604, 608)
    assert critical.reached_last_step == 2
    warning = figures["warning"]
    # Resolved by itself: not a response time.
    assert (warning.alerts, warning.acknowledged, warning.resolved, warning.resolve_median_s) == (1, 0, 0, None)
    assert list(figures) == ["critical", "urgent", "warning", "info"]


def test_the_page_and_csv_for_a_clinician(client, alice, clara, week):
    client.force_login(clara)
    page = client.get("/desk/response/", {"week": "2026-11-25"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "2026-11-23" in text and "2026-11-29" in text
    response = client.get("/desk/response.csv", {"site": alice.site_id, "week": "2026-11-25"})
    assert response["Content-Disposition"] == 'attachment; filename="response-plant-a-2026-11-23.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["week", "site", "severity", "alerts"]
    assert rows[1] == ["2026-11-23", "Plant A", "critical", "10", "10", "50.0", "90.0", "10", "604.0", "608.0", "2"]


def test_a_site_administrator_sees_the_figures_too(client, adam, week):
    client.force_login(adam)
    assert client.get("/desk/response/").status_code == 200


def test_hr_workers_safety_officers_and_other_sites_are_refused(client, alice, hana, carl, site_a, week):
    sam = staff("sam", "safety_officer", site_a)
    for user in (hana, alice.user, sam):
        client.force_login(user)
        assert client.get("/desk/response/").status_code == 404
        assert client.get("/desk/response.csv").status_code == 404
    client.force_login(carl)
    assert client.get("/desk/response.csv", {"site": alice.site_id}).status_code == 400
    assert client.get("/desk/response/", {"week": "last tuesday"}).status_code == 400


def test_cells_that_a_spreadsheet_would_run_are_neutralised(client, alice, clara, week):
    site = alice.site
    site.name = '=HYPERLINK("http://evil")'
    site.save()
    client.force_login(clara)
    body = client.get("/desk/response.csv", {"week": "2026-11-25"}).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body)))[1][1] == '\'=HYPERLINK("http://evil")'
