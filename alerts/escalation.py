"""On-call rota and escalation chains.

A chain is a list of steps per severity, each "after N seconds
unacknowledged, notify these". Step 0 runs in the transaction that opens the
alert (or worsens it: a worse severity starts that severity's chain again);
the beat sweeper (alerts.services.alerts_escalate_overdue) runs the later
ones. Every step is an AlertEvent, its notifications are rows written in the
same transaction, and a step is claimed with a conditional UPDATE on
(chain_step, chain_next_at), so two beat processes never run it twice.
Acknowledging or resolving stops the chain (chain_next_at = null).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from alerts.models import Alert, AlertEvent, AlertStatus, EscalationStep, OnCall, Target, WorkerZone
from alerts.notify.services import notifications_record
from workers.models import StaffRole


@dataclass(frozen=True)
class Step:
    after_s: int
    targets: tuple[str, ...]


# The built-in chains, for sites that configured none for a severity.
DEFAULT_CHAINS: dict[str, tuple[Step, ...]] = {
    "critical": (
        Step(0, (Target.PRIMARY,)),
        Step(120, (Target.BACKUP,)),
        Step(300, (Target.CLINICIANS, Target.SAFETY_OFFICERS)),
    ),
    "urgent": (Step(0, (Target.PRIMARY,)), Step(300, (Target.BACKUP,)), Step(600, (Target.CLINICIANS,))),
    "warning": (Step(0, (Target.DESK,)), Step(900, (Target.PRIMARY,))),
    "info": (Step(0, (Target.DESK,)),),
}


def chain_for(site_id: int, severity: str) -> tuple[Step, ...]:
    """The site's chain for ``severity`` (its EscalationStep rows, by delay),
    or the built-in one."""
    rows = EscalationStep.objects.filter(site_id=site_id, severity=severity).order_by("after_s")
    steps = tuple(Step(row.after_s, tuple(row.targets)) for row in rows)
    return steps or DEFAULT_CHAINS[severity]


def on_call_now(site_id: int, now: datetime) -> OnCall | None:
    """The rota period covering ``now`` at the site (the latest-starting one
    if periods overlap, so a swap entered later wins)."""
    return (
        OnCall.objects.filter(site_id=site_id, starts_at__lte=now, ends_at__gt=now)
        .select_related("primary", "backup")
        .order_by("-starts_at")
        .first()
    )


def _site_staff(site_id: int, role: StaffRole) -> list[AbstractBaseUser]:
    return list(
        get_user_model()
        .objects.filter(staff_profile__role=role, staff_profile__sites=site_id, is_active=True)
        .order_by("username")
    )


def step_recipients(site_id: int, targets: tuple[str, ...], now: datetime) -> tuple[list[AbstractBaseUser], dict]:
    """Who a step's targets are right now, and what the history says about it.

    Nobody on call (no rota period, or no backup) falls back to every
    clinician of the site: a step never goes to nobody unnoticed."""
    users: dict[int, AbstractBaseUser] = {}
    fallback: list[str] = []
    period = None
    if {Target.PRIMARY, Target.BACKUP} & set(targets):
        period = on_call_now(site_id, now)
    for target in targets:
        found: list[AbstractBaseUser] = []
        if target == Target.PRIMARY and period is not None:
            found = [period.primary]
        elif target == Target.BACKUP and period is not None and period.backup is not None:
            found = [period.backup]
        elif target == Target.CLINICIANS:
            found = _site_staff(site_id, StaffRole.CLINICIAN)
        elif target == Target.SAFETY_OFFICERS:
            found = _site_staff(site_id, StaffRole.SAFETY_OFFICER)
        if target in (Target.PRIMARY, Target.BACKUP) and not found:
            fallback.append(target)
            found = _site_staff(site_id, StaffRole.CLINICIAN)
        users.update({u.pk: u for u in found})
    detail: dict = {"targets": list(targets), "notified": sorted(u.username for u in users.values())}
    if fallback:
        detail["nobody_on_call"] = fallback
    return list(users.values()), detail


def _run_step(alert: Alert, steps: tuple[Step, ...], index: int, now: datetime) -> AlertEvent:
    step = steps[index]
    users, detail = step_recipients(alert.worker.site_id, step.targets, now)
    event = AlertEvent.objects.create(
        alert=alert,
        at=now,
        action=AlertEvent.Action.STEP,
        detail={"step": index + 1, "of": len(steps), "after_s": step.after_s, **detail},
    )
    notifications_record(alert=alert, event=event, users=users, now=now)
    return event


def chain_start(*, alert: Alert, now: datetime) -> AlertEvent | None:
    """Start the chain of the alert's (new) severity, in the caller's
    transaction, the alert row locked by the caller. Runs step 0 at once if
    it is immediate; returns its event when it notified someone."""
    steps = chain_for(alert.worker.site_id, alert.severity)
    alert.chain_step = 0
    alert.chain_final_at = None
    event = None
    if steps[0].after_s == 0:
        if steps[0].targets != (Target.DESK,):
            event = _run_step(alert, steps, 0, now)
        alert.chain_step = 1
    more = alert.chain_step < len(steps)
    alert.chain_next_at = now + timedelta(seconds=steps[alert.chain_step].after_s) if more else None
    alert.save(update_fields=["chain_step", "chain_next_at", "chain_final_at"])
    return event


@transaction.atomic
def chain_advance(*, alert_id: int, now: datetime) -> AlertEvent | None:
    """Run the alert's next step if it is due and still open. Claimed with a
    conditional UPDATE: of two sweepers, one runs it and the other gets None."""
    alert = Alert.objects.select_related("worker__site", "worker__user").filter(pk=alert_id).first()
    if alert is None or alert.status != AlertStatus.OPEN or alert.chain_next_at is None or alert.chain_next_at > now:
        return None
    steps = chain_for(alert.worker.site_id, alert.severity)
    index, due = alert.chain_step, alert.chain_next_at
    if index >= len(steps):
        Alert.objects.filter(pk=alert_id, chain_step=index).update(chain_next_at=None)
        return None
    # The chain's times count from its start, not from when a sweep ran.
    start = due - timedelta(seconds=steps[index].after_s)
    last = index + 1 == len(steps)
    changes: dict = {
        "chain_step": index + 1,
        "chain_next_at": None if last else start + timedelta(seconds=steps[index + 1].after_s),
        "updated_at": now,
    }
    if last and index >= 1:
        changes["chain_final_at"] = now  # climbed to the top of a real chain
    if index >= 1 and alert.escalated_at is None:
        changes["escalated_at"] = now  # the first step past the first responder
    claimed = Alert.objects.filter(pk=alert_id, status=AlertStatus.OPEN, chain_step=index, chain_next_at=due).update(
        **changes
    )
    if not claimed:
        return None
    for name, value in changes.items():
        setattr(alert, name, value)
    return _run_step(alert, steps, index, now)


def chain_stop(alert: Alert) -> None:
    """Acknowledged or resolved: no further steps (the caller saves)."""
    alert.chain_next_at = None


def due_alerts(now: datetime) -> list[int]:
    return list(
        Alert.objects.filter(status=AlertStatus.OPEN, chain_next_at__lte=now)
        .order_by("chain_next_at")
        .values_list("pk", flat=True)
    )


ZONE_FRESH = timedelta(minutes=30)


def alert_opened(*, alert: Alert, event: AlertEvent, now: datetime) -> None:
    """An alert opened, or worsened (``event``): start its severity's chain,
    and tell the worker on their own devices, as their preferences say."""
    if alert.kind in ("sos", "fall") and not alert.zone:
        # Where the wearer was last seen, if the device said so lately.
        found = WorkerZone.objects.filter(worker_id=alert.worker_id, reported_at__gte=now - ZONE_FRESH).first()
        if found is not None:
            alert.zone = found.zone
            alert.save(update_fields=["zone"])
    chain_start(alert=alert, now=now)
    notifications_record(alert=alert, event=event, users=[alert.worker.user], now=now)
