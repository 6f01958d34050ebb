"""The alert lifecycle: one open alert per (worker, kind), hysteresis and
automatic resolution, snoozes that a worse severity breaks through,
acknowledgement, escalation, and live delivery to every audience."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertEvent, AlertStatus
from alerts.rules.base import Evaluation, Severity
from healthhub.live import SENT_AT, device_group, site_clinicians_group, worker_group

pytestmark = pytest.mark.django_db


def active(kind="hypoxemia", severity=Severity.WARNING, **evidence):
    return Evaluation.active(kind, severity, "Blood oxygen is low", **evidence)


def apply(worker, evaluation, at):
    return services.alert_apply(worker_id=worker.pk, evaluation=evaluation, now=at)


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0)


def test_repeated_trigger_updates_the_one_open_alert(alice, t0):
    first = apply(alice, active(spo2=90), t0)
    second = apply(alice, active(spo2=89), t0 + timedelta(minutes=1))
    assert first.pk == second.pk
    assert Alert.objects.count() == 1
    second.refresh_from_db()
    assert second.evidence == {"spo2": 89}
    assert [e.action for e in second.events.all()] == ["opened"]


def test_different_kinds_and_workers_get_their_own_alerts(alice, bob, t0):
    apply(alice, active(), t0)
    apply(alice, active("heat_strain"), t0)
    apply(bob, active(), t0)
    assert Alert.objects.count() == 3


def test_clear_must_last_before_the_alert_resolves(alice, t0, settings):
    settings.ALERTS = {**settings.ALERTS, "AUTO_RESOLVE_AFTER_S": 600}
    alert = apply(alice, active(), t0)
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=1))
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=10))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=11))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.auto_resolved
    assert alert.resolved_at == t0 + timedelta(minutes=11)
    assert alert.events.last().action == AlertEvent.Action.AUTO_RESOLVED


def test_hold_inside_the_margin_restarts_the_clear_timer(alice, t0):
    alert = apply(alice, active(), t0)
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=1))
    apply(alice, Evaluation.hold("hypoxemia"), t0 + timedelta(minutes=5))
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=6))
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=12))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN  # only 6 minutes clear since the hold
    apply(alice, Evaluation.clear("hypoxemia"), t0 + timedelta(minutes=16))
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_retrigger_after_resolution_opens_a_new_alert(alice, t0):
    first = apply(alice, active(), t0)
    services.alert_resolve(alert_id=first.pk, by=alice.user, note="")
    second = apply(alice, active(), t0 + timedelta(minutes=1))
    assert second.pk != first.pk


def test_same_verdict_twice_changes_nothing(alice, t0):
    apply(alice, active(), t0)
    apply(alice, active(), t0)
    assert Alert.objects.count() == 1
    assert AlertEvent.objects.count() == 1


def test_snooze_silences_the_same_severity_but_not_a_worse_one(alice, clara, t0):
    services.snooze_create(
        worker=alice, kind="hypoxemia", severity="warning", minutes=60, reason="known COPD", by=clara
    )
    assert apply(alice, active(severity=Severity.WARNING), timezone.now()) is None
    assert Alert.objects.count() == 0
    broke_through = apply(alice, active(severity=Severity.URGENT), timezone.now())
    assert broke_through is not None and broke_through.severity == "urgent"


def test_snooze_expires(alice, clara):
    services.snooze_create(worker=alice, kind="hypoxemia", severity="warning", minutes=1, reason="r", by=clara)
    assert apply(alice, active(), timezone.now() + timedelta(minutes=2)) is not None


@pytest.mark.parametrize(("minutes", "reason"), [(0, "x"), (60 * 24 * 8, "x"), (10, "  ")])
def test_snooze_needs_a_reason_and_a_sane_duration(alice, clara, minutes, reason):
    with pytest.raises(services.AlertActionError):
        services.snooze_create(worker=alice, kind="fall", severity="critical", minutes=minutes, reason=reason, by=clara)


def test_acknowledge_then_resolve(alice, clara, t0):
    alert = apply(alice, active(), t0)
    services.alert_acknowledge(alert_id=alert.pk, by=clara)
    with pytest.raises(services.AlertActionError):
        services.alert_acknowledge(alert_id=alert.pk, by=clara)
    services.alert_resolve(alert_id=alert.pk, by=clara, note="rested, SpO2 back to 97")
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.resolved_by) == ("resolved", clara, clara)
    assert [e.action for e in alert.events.all()] == ["opened", "acknowledged", "resolved"]
    assert alert.events.last().detail == {"note": "rested, SpO2 back to 97"}
    with pytest.raises(services.AlertActionError):
        services.alert_resolve(alert_id=alert.pk, by=clara)


def test_a_worse_severity_reopens_an_acknowledged_alert(alice, clara, t0):
    alert = apply(alice, active(), t0)
    services.alert_acknowledge(alert_id=alert.pk, by=clara)
    apply(alice, active(severity=Severity.URGENT), t0 + timedelta(minutes=1))
    alert.refresh_from_db()
    assert (alert.status, alert.severity) == ("open", "urgent")


def test_notes_are_kept_and_empty_notes_refused(alice, clara, t0):
    alert = apply(alice, active(), t0)
    services.alert_annotate(alert_id=alert.pk, by=clara, note="called the line lead")
    with pytest.raises(services.AlertActionError):
        services.alert_annotate(alert_id=alert.pk, by=clara, note=" ")
    assert alert.events.filter(action="note").get().detail == {"note": "called the line lead"}


def test_unacknowledged_critical_climbs_its_chain_once_per_step(alice, clara, t0):
    from tests.factories import staff

    staff("cleo", "clinician", alice.site)
    alert = apply(alice, active("sos", Severity.CRITICAL), t0)
    assert services.alerts_escalate_overdue(now=t0 + timedelta(seconds=119)) == 0
    assert services.alerts_escalate_overdue(now=t0 + timedelta(seconds=120)) == 1
    assert services.alerts_escalate_overdue(now=t0 + timedelta(seconds=120)) == 0
    assert services.alerts_escalate_overdue(now=t0 + timedelta(seconds=300)) == 1
    assert services.alerts_escalate_overdue(now=t0 + timedelta(seconds=900)) == 0
    alert.refresh_from_db()
    assert alert.escalated_at == t0 + timedelta(seconds=120)
    assert alert.chain_final_at == t0 + timedelta(seconds=300)
    steps = [e.detail for e in alert.events.filter(action="step")]
    # Nobody is on call at this site: the on-call steps fall back to every clinician.
    assert [(d["step"], d["targets"], d["notified"]) for d in steps] == [
        (1, ["primary"], ["clara", "cleo"]),
        (2, ["backup"], ["clara", "cleo"]),
        (3, ["clinicians", "safety_officers"], ["clara", "cleo"]),
    ]


def test_acknowledged_alerts_stop_and_others_follow_their_severitys_chain(alice, clara, t0):
    acked = apply(alice, active("sos", Severity.CRITICAL), t0)
    services.alert_acknowledge(alert_id=acked.pk, by=clara)
    urgent = apply(alice, active("hypoxemia", Severity.URGENT), t0)
    # Urgent: backup after 5 minutes, every clinician after 10.
    assert services.alerts_escalate_overdue(now=t0 + timedelta(minutes=10)) == 2
    assert not acked.events.filter(action="step").exclude(detail__step=1).exists()
    assert urgent.events.filter(action="step").count() == 3


def receive(group):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    def next_event():
        event = async_to_sync(layer.receive)(channel)
        assert isinstance(event.pop(SENT_AT), float)  # stamped when sent (healthhub.live)
        return event

    return next_event


def test_changes_reach_clinicians_portal_and_wearable(alice, alice_device, t0, django_capture_on_commit_callbacks):
    device, _ = alice_device
    clinicians = receive(site_clinicians_group(alice.site_id))
    portal = receive(worker_group(alice.pk))
    wearable = receive(device_group(device.pk))
    with django_capture_on_commit_callbacks(execute=True):
        alert = apply(alice, Evaluation.active("fall", Severity.CRITICAL, "Fall detected"), t0)
    for listener in (clinicians, portal):
        event = listener()
        assert event["type"] == "alert.changed" and event["change"] == "opened"
        assert event["alert"]["id"] == alert.pk and event["alert"]["severity"] == "critical"
    frame = wearable()
    assert frame == {
        "type": "alert.push",
        "id": str(alert.pk),
        "kind": "fall",
        "severity": "critical",
        "action": "help_is_coming",
        # For devices that still read ``message``: the action's fixed phrase in
        # the site's language (Korean by default), never the alert's own text.
        "message": "도움이 오고 있습니다. 그 자리에 계세요.",
    }


@pytest.mark.parametrize(
    ("kind", "severity", "action"),
    [
        ("sos", "critical", "help_is_coming"),
        ("heat_strain", "warning", "rest_in_shade"),
        ("heat_strain", "critical", "seek_help"),
        ("hypoxemia", "urgent", "stop_and_rest"),
        ("fever", "warning", "seek_help"),
        ("low_battery", "info", "check_wearable"),
    ],
)
def test_a_wearable_gets_codes_and_no_health_text(
    alice, alice_device, t0, kind, severity, action, django_capture_on_commit_callbacks
):
    device, _ = alice_device
    wearable = receive(device_group(device.pk))
    text = "Core temperature 39.4 °C: suspected heat stroke"
    with django_capture_on_commit_callbacks(execute=True):
        alert = apply(alice, Evaluation.active(kind, Severity.from_label(severity), text), t0)
    frame = wearable()
    assert (frame["kind"], frame["severity"], frame["action"], frame["id"]) == (kind, severity, action, str(alert.pk))
    assert set(frame) == {"type", "id", "kind", "severity", "action", "message"}
    assert "39.4" not in frame["message"] and "heat stroke" not in frame["message"]


def test_site_thresholds_apply_to_that_site_only(alice, charlie):
    from alerts.models import SiteThresholds
    from alerts.selectors import thresholds_for

    SiteThresholds.objects.create(site=alice.site, overrides={"spo2_warning": 93})
    assert thresholds_for(alice.site_id).spo2_warning == 93
    assert thresholds_for(charlie.site_id).spo2_warning == 91


def test_bad_site_thresholds_are_refused_by_validation(alice):
    from django.core.exceptions import ValidationError

    from alerts.models import SiteThresholds

    with pytest.raises(ValidationError, match="unknown threshold"):
        SiteThresholds(site=alice.site, overrides={"spo2_warn": 93}).full_clean()


def test_triage_order_follows_severity_on_every_write_path(alice, bob, t0):
    """The rank is computed by the database, so a queryset update (which
    bypasses save()) keeps the triage order right."""
    low = apply(alice, active("hypoxemia", Severity.WARNING), t0)
    high = apply(bob, active("heat_strain", Severity.URGENT), t0)
    assert list(Alert.objects.values_list("pk", flat=True)) == [high.pk, low.pk]
    Alert.objects.filter(pk=low.pk).update(severity="critical")
    assert list(Alert.objects.values_list("pk", flat=True)) == [low.pk, high.pk]
    assert Alert.objects.get(pk=low.pk).severity_rank == 4
