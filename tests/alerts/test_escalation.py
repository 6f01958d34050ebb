"""Escalation chains and the on-call rota, on a frozen clock: each step at
its second, to the person on call, an event on the alert's history;
acknowledgement stops the chain; two sweepers never run a step twice."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from alerts import escalation, services, tasks
from alerts.models import Alert, EscalationStep, Notification, OnCall
from alerts.notify import services as notify
from alerts.rules.base import Evaluation, Severity
from tests.factories import SiteFactory, WorkerFactory, staff

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Seoul"))


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rota(alice, clara):
    """Plant A today: clara primary and cleo backup by day, sam the safety officer."""
    cleo = staff("cleo", "clinician", alice.site)
    sam = staff("sam", "safety_officer", alice.site)
    staff("cody", "clinician", alice.site)
    for user in (clara, cleo, sam):
        user.email = f"{user.username}@example.test"
        user.save()
    OnCall.objects.create(
        site=alice.site, shift="day", starts_at=T0.replace(hour=8), ends_at=T0.replace(hour=20), primary=clara,
        backup=cleo,
    )  # fmt: skip
    OnCall.objects.create(
        site=alice.site, shift="night", starts_at=T0.replace(hour=20), ends_at=T0.replace(hour=8) + timedelta(days=1),
        primary=cleo, backup=clara,
    )  # fmt: skip
    return {"cleo": cleo, "sam": sam}


def open_alert(worker, kind="sos", severity=Severity.CRITICAL):
    return services.alert_apply(
        worker_id=worker.pk, evaluation=Evaluation.active(kind, severity, "x"), now=timezone.now()
    )


def emailed(alert) -> list[tuple[int, list[str]]]:
    """(step, people emailed) for each step of the alert's chain."""
    steps = []
    for event in alert.events.filter(action="step").order_by("at"):
        users = sorted(
            Notification.objects.filter(event=event, channel="email").values_list("user__username", flat=True)
        )
        steps.append((event.detail["step"], users))
    return steps


def test_critical_climbs_primary_backup_then_everyone_at_its_seconds(alice, rota, clock):
    alert = open_alert(alice)
    assert emailed(alert) == [(1, ["clara"])]
    clock.shift(119)
    assert tasks.escalate_overdue() == 0
    clock.shift(1)
    assert tasks.escalate_overdue() == 1
    assert emailed(alert) == [(1, ["clara"]), (2, ["cleo"])]
    clock.shift(179)
    assert tasks.escalate_overdue() == 0
    clock.shift(1)
    assert tasks.escalate_overdue() == 1
    # Every clinician of the site (cody too) and the safety officer; cody has no email address.
    assert emailed(alert)[2] == (3, ["clara", "cleo", "sam"])
    assert Notification.objects.filter(event__detail__step=3).count() == 3
    alert.refresh_from_db()
    steps = list(alert.events.filter(action="step").values_list("at", "detail"))
    assert [at - T0 for at, _ in steps] == [timedelta(0), timedelta(seconds=120), timedelta(seconds=300)]
    assert steps[2][1]["notified"] == ["clara", "cleo", "cody", "sam"]
    assert (alert.escalated_at, alert.chain_final_at, alert.chain_next_at) == (
        T0 + timedelta(seconds=120), T0 + timedelta(seconds=300), None,
    )  # fmt: skip
    clock.shift(3600)
    assert tasks.escalate_overdue() == 0


def test_a_late_sweep_counts_from_the_chains_start_not_from_itself(alice, rota, clock):
    alert = open_alert(alice)
    clock.shift(130)  # the beat was 10 s late
    assert tasks.escalate_overdue() == 1
    alert.refresh_from_db()
    assert alert.chain_next_at == T0 + timedelta(seconds=300)


def test_a_sweep_after_a_long_outage_runs_every_missed_step_in_order(alice, rota, clock):
    alert = open_alert(alice)
    clock.shift(600)
    assert tasks.escalate_overdue() == 2
    assert [step for step, _ in emailed(alert)] == [1, 2, 3]


def test_acknowledging_stops_the_chain(alice, rota, clara, clock):
    alert = open_alert(alice)
    clock.shift(60)
    services.alert_acknowledge(alert_id=alert.pk, by=clara)
    clock.shift(600)
    assert tasks.escalate_overdue() == 0
    assert emailed(alert) == [(1, ["clara"])]


def test_warning_is_desk_only_then_the_primary_after_15_minutes(alice, rota, clock):
    alert = open_alert(alice, "hypoxemia", Severity.WARNING)
    assert not alert.events.filter(action="step").exists()
    assert not Notification.objects.exclude(user=alice.user).exists()
    clock.shift(899)
    assert tasks.escalate_overdue() == 0
    clock.shift(1)
    assert tasks.escalate_overdue() == 1
    event = alert.events.get(action="step")
    assert (event.detail["targets"], event.detail["notified"]) == (["primary"], ["clara"])


def test_the_night_rota_applies_at_night(alice, rota, clock):
    clock.move_to(T0.replace(hour=23))
    alert = open_alert(alice)
    assert alert.events.get(action="step").detail["notified"] == ["cleo"]


def test_a_worse_severity_starts_its_chain_at_once(alice, rota, clock):
    alert = open_alert(alice, "hypoxemia", Severity.WARNING)
    clock.shift(30)
    open_alert(alice, "hypoxemia", Severity.CRITICAL)
    assert alert.events.get(action="step").detail["notified"] == ["clara"]
    alert.refresh_from_db()
    assert alert.chain_next_at == T0 + timedelta(seconds=30 + 120)


def test_a_sites_own_chain_replaces_the_built_in_one(alice, rota, clock):
    EscalationStep.objects.create(site=alice.site, severity="warning", after_s=0, targets=["desk"])
    EscalationStep.objects.create(
        site=alice.site, severity="warning", after_s=60, targets=["primary", "safety_officers"]
    )
    alert = open_alert(alice, "hypoxemia", Severity.WARNING)
    clock.shift(60)
    assert tasks.escalate_overdue() == 1
    assert alert.events.get(action="step").detail["notified"] == ["clara", "sam"]


def test_nobody_on_call_falls_back_to_every_clinician_and_says_so(alice, clara, clock):
    staff("cleo", "clinician", alice.site)
    alert = open_alert(alice)
    detail = alert.events.get(action="step").detail
    assert (detail["notified"], detail["nobody_on_call"]) == (["clara", "cleo"], ["primary"])


def test_two_sweepers_never_run_a_step_twice(alice, rota, clock, monkeypatch):
    alert = open_alert(alice)
    clock.shift(120)
    # The other beat process runs the whole sweep between this one's read of
    # the alert and its claim.
    real_chain_for = escalation.chain_for
    interleaved = []

    def chain_for(site_id, severity):
        if not interleaved:
            interleaved.append("running")
            interleaved.append(services.alerts_escalate_overdue())
        return real_chain_for(site_id, severity)

    monkeypatch.setattr(escalation, "chain_for", chain_for)
    assert services.alerts_escalate_overdue() == 0
    assert interleaved == ["running", 1]
    assert [step for step, _ in emailed(alert)] == [1, 2]


def test_a_manual_escalation_reaches_everyone_at_once_and_ends_the_chain(alice, rota, clara, clock):
    alert = open_alert(alice)
    assert services.alert_escalate(alert_id=alert.pk, by=clara)
    alert.refresh_from_db()
    assert alert.chain_next_at is None
    event = alert.events.get(action="escalated")
    notified = set(Notification.objects.filter(event=event).values_list("user__username", flat=True))
    assert notified == {"cleo", "sam"}  # clara escalated it herself
    clock.shift(600)
    assert tasks.escalate_overdue() == 0


def test_on_call_now_prefers_the_later_swap(alice, rota, clara, clock):
    OnCall.objects.create(
        site=alice.site, shift="day", starts_at=T0 - timedelta(minutes=5), ends_at=T0 + timedelta(hours=1),
        primary=rota["cleo"],
    )  # fmt: skip
    assert escalation.on_call_now(alice.site_id, timezone.now()).primary == rota["cleo"]
    assert escalation.on_call_now(alice.site_id, T0 + timedelta(hours=2)).primary == clara


def test_fifty_sites_rota_and_chains_are_swept_within_a_second(clock):
    sites = [SiteFactory(code=f"bench-{n}", name=f"Bench {n}") for n in range(50)]
    for n, site in enumerate(sites):
        primary = staff(f"p{n}", "clinician", site)
        backup = staff(f"b{n}", "clinician", site)
        staff(f"s{n}", "safety_officer", site)
        OnCall.objects.create(
            site=site, shift="day", starts_at=T0 - timedelta(hours=2), ends_at=T0 + timedelta(hours=10),
            primary=primary, backup=backup,
        )  # fmt: skip
        open_alert(WorkerFactory(department__site=site))
    clock.shift(120)
    # CPU time of this process (SQLite runs in it): the figure that does not
    # depend on what else the shared machine is doing.
    started = time.process_time()
    assert tasks.escalate_overdue() == 50
    elapsed = time.process_time() - started
    assert Alert.objects.filter(chain_step=2).count() == 50
    # The target; measured (SQLite, CPU time): 0.29–0.31 s for 50 steps.
    assert elapsed < 1.0, elapsed


def test_notify_preferences_do_not_change_who_the_chain_reaches(alice, rota, clara, clock):
    notify.preference_save(
        user=clara, channels={"push": ["critical"]}, phone="", quiet_start=None, quiet_end=None, language="en",
        time_zone="Asia/Seoul",
    )  # fmt: skip
    alert = open_alert(alice)
    assert alert.events.get(action="step").detail["notified"] == ["clara"]
    assert not Notification.objects.filter(user=clara).exists()  # no device subscribed, no email chosen
