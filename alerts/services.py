"""The alert lifecycle: open, update, snooze, acknowledge, escalate, resolve."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from alerts import escalation
from alerts.lag import EVALUATION_LAG
from alerts.models import SEVERITY_RANK, Alert, AlertEvent, AlertStatus, Baseline, Snooze, WorkerZone
from alerts.notify.services import notifications_record
from alerts.payloads import alert_payload
from alerts.rules.base import Evaluation, State
from devices import protocol
from devices.models import Device, DeviceStatus
from healthhub import metrics
from healthhub.flags import flags_raise
from healthhub.live import device_group, group_send_now, site_clinicians_group, worker_group
from workers.models import Worker

log = logging.getLogger(__name__)


class AlertActionError(Exception):
    """An action that does not apply to the alert in its current state."""


def _publish(alert: Alert, change: str, *, to_device: bool = False) -> None:
    """After commit: the site's clinicians and the worker's portal get the
    change; on opening or worsening, the worker's wearables get an alert frame."""
    payload = alert_payload(alert)
    event = {"type": "alert.changed", "change": change, "alert": payload}
    site_id = Worker.objects.filter(pk=alert.worker_id).values_list("site_id", flat=True).first()

    action = protocol.alert_action(alert.kind, alert.severity)

    def send() -> None:
        group_send_now(site_clinicians_group(site_id), event)
        group_send_now(worker_group(alert.worker_id), event)
        if to_device:
            devices = Device.objects.filter(worker_id=alert.worker_id, status=DeviceStatus.ACTIVE)
            for device_id in devices.values_list("pk", flat=True):
                group_send_now(
                    device_group(device_id),
                    {
                        "type": "alert.push",
                        "id": str(alert.pk),
                        "kind": alert.kind,
                        "severity": alert.severity,
                        # What the wearable needs to vibrate and show, nothing
                        # more: whoever holds it may not be the worker.
                        "action": action,
                        # For devices that still read ``message``: the action's
                        # fixed phrase in the site's language (Korean by default).
                        "message": _device_text(protocol.LEGACY_MESSAGE[action]),
                    },
                )

    transaction.on_commit(send)


def _device_text(message: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return gettext(message)


def _event(
    alert: Alert, action: str, now: datetime, by: AbstractBaseUser | None = None, *, shared: bool = False, **detail
) -> AlertEvent:
    return AlertEvent.objects.create(
        alert=alert, at=now, action=action, by=by, detail=detail, shared_with_worker=shared
    )


def _snoozed(worker_id: int, kind: str, severity: str, now: datetime) -> bool:
    """Snoozed unless this severity is worse than every live snooze's."""
    snoozes = Snooze.objects.filter(worker_id=worker_id, kind=kind, until__gt=now).values_list("severity", flat=True)
    return any(SEVERITY_RANK[severity] <= SEVERITY_RANK[s] for s in snoozes)


def auto_resolve_after() -> timedelta:
    return timedelta(seconds=settings.ALERTS["AUTO_RESOLVE_AFTER_S"])


@transaction.atomic
def alert_apply(*, worker_id: int, evaluation: Evaluation, now: datetime) -> Alert | None:
    """Apply one rule verdict to the worker's alert of that kind.

    ACTIVE opens an alert (unless snoozed at that severity) or updates the
    open one; CLEAR starts, or completes after the set time, automatic
    resolution; HOLD keeps the alert open and restarts the clear timer.
    Returns the alert touched, if any. Safe to call again with the same
    verdict: it changes nothing the second time but the evidence.
    """
    kind = evaluation.kind
    alert = (
        Alert.objects.select_for_update()
        .filter(worker_id=worker_id, kind=kind)
        .exclude(status=AlertStatus.RESOLVED)
        .first()
    )
    if evaluation.state is State.ACTIVE:
        severity = evaluation.severity.label
        if alert is None:
            if _snoozed(worker_id, kind, severity, now):
                return None
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        worker_id=worker_id,
                        kind=kind,
                        severity=severity,
                        message=evaluation.message,
                        evidence=evaluation.evidence,
                        opened_at=now,
                        updated_at=now,
                    )
            except IntegrityError:
                # Another evaluation opened it a moment ago: update that one.
                return alert_apply(worker_id=worker_id, evaluation=evaluation, now=now)
            opened = _event(alert, AlertEvent.Action.OPENED, now, severity=severity)
            escalation.alert_opened(alert=alert, event=opened, now=now)
            _publish(alert, "opened", to_device=True)
            return alert
        worse = SEVERITY_RANK[severity] > alert.severity_rank
        changed = severity != alert.severity or evaluation.message != alert.message
        previous = alert.severity
        alert.severity = severity
        alert.message = evaluation.message
        alert.evidence = evaluation.evidence
        alert.updated_at = now
        alert.clear_since = None
        if worse and alert.status == AlertStatus.ACKNOWLEDGED:
            # A worse condition needs someone to look again.
            alert.status = AlertStatus.OPEN
            alert.escalated_at = None
        alert.save()
        if changed:
            event = _event(alert, AlertEvent.Action.CHANGED, now, severity=severity, previous=previous)
            if worse:  # the worse severity's chain starts again
                escalation.alert_opened(alert=alert, event=event, now=now)
            _publish(alert, "changed", to_device=worse)
        return alert
    if alert is None:
        return None
    if evaluation.state is State.HOLD:
        if alert.clear_since is not None:
            alert.clear_since = None
            alert.save(update_fields=["clear_since"])
        return alert
    # CLEAR
    if alert.clear_since is None:
        alert.clear_since = now
        alert.save(update_fields=["clear_since"])
        return alert
    if now - alert.clear_since >= auto_resolve_after():
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.auto_resolved = True
        alert.updated_at = now
        escalation.chain_stop(alert)
        alert.save()
        _event(alert, AlertEvent.Action.AUTO_RESOLVED, now, clear_since=alert.clear_since.isoformat())
        _publish(alert, "resolved")
    return alert


def _locked(alert_id: int) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert_id)


@transaction.atomic
def alert_acknowledge(*, alert_id: int, by: AbstractBaseUser, note: str = "", share_with_worker: bool = False) -> Alert:
    alert = _locked(alert_id)
    if alert.status != AlertStatus.OPEN:
        raise AlertActionError(f"the alert is {alert.status}, not open")
    now = timezone.now()
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by = by
    alert.updated_at = now
    escalation.chain_stop(alert)
    alert.save()
    _event(alert, AlertEvent.Action.ACKNOWLEDGED, now, by, note=note, shared=share_with_worker and bool(note))
    _publish(alert, "acknowledged")
    return alert


@transaction.atomic
def alert_resolve(*, alert_id: int, by: AbstractBaseUser, note: str = "", share_with_worker: bool = False) -> Alert:
    alert = _locked(alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertActionError("the alert is already resolved")
    now = timezone.now()
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = by
    alert.updated_at = now
    escalation.chain_stop(alert)
    alert.save()
    _event(alert, AlertEvent.Action.RESOLVED, now, by, note=note, shared=share_with_worker and bool(note))
    _publish(alert, "resolved")
    return alert


@transaction.atomic
def alert_annotate(*, alert_id: int, by: AbstractBaseUser, note: str, share_with_worker: bool = False) -> Alert:
    """A clinician's note on the alert: private to the site's clinicians
    unless ``share_with_worker`` (alerts.selectors.alert_events_for)."""
    note = note.strip()
    if not note:
        raise AlertActionError("a note cannot be empty")
    alert = _locked(alert_id)
    _event(alert, AlertEvent.Action.NOTE, timezone.now(), by, note=note[:2000], shared=share_with_worker)
    _publish(alert, "annotated")
    return alert


@transaction.atomic
def alert_escalate(*, alert_id: int, by: AbstractBaseUser | None = None, now: datetime | None = None) -> bool:
    """Escalate by hand to every clinician and safety officer of the worker's
    site at once (the top of any chain), which ends the chain. Claimed with
    a conditional UPDATE, so two clinicians escalate once."""
    now = now or timezone.now()
    claimed = Alert.objects.filter(pk=alert_id, escalated_at__isnull=True).exclude(status=AlertStatus.RESOLVED)
    if claimed.update(escalated_at=now, updated_at=now, chain_next_at=None, chain_final_at=now) == 0:
        return False
    alert = Alert.objects.select_related("worker__site").get(pk=alert_id)
    users, _ = escalation.step_recipients(alert.worker.site_id, ("clinicians", "safety_officers"), now)
    clinicians = sorted(
        alert.worker.site.staff.filter(role="clinician").values_list("user__username", flat=True).order_by("user_id")
    )
    event = _event(alert, AlertEvent.Action.ESCALATED, now, by, clinicians=clinicians)
    notifications_record(alert=alert, event=event, users=[u for u in users if u != by], now=now)
    _publish(alert, "escalated")
    return True


def alerts_escalate_overdue(*, now: datetime | None = None) -> int:
    """Run every escalation-chain step that is due (alerts.escalation);
    returns how many steps ran. Safe with several beat processes."""
    now = now or timezone.now()
    ran = 0
    for alert_id in escalation.due_alerts(now):
        # A sweep that was late (beat down for a while) catches up step by step.
        while (event := escalation.chain_advance(alert_id=alert_id, now=now)) is not None:
            ran += 1
            _publish(event.alert, "escalated")
            if event.alert.chain_next_at is None or event.alert.chain_next_at > now:
                break
    return ran


@transaction.atomic
def snooze_create(
    *, worker: Worker, kind: str, severity: str, minutes: int, reason: str, by: AbstractBaseUser
) -> Snooze:
    """Silence ``kind`` for ``worker`` at ``severity`` and below for ``minutes``."""
    reason = reason.strip()
    if not reason:
        raise AlertActionError("a snooze needs a reason")
    if not 1 <= minutes <= 7 * 24 * 60:
        raise AlertActionError("a snooze lasts between 1 minute and 7 days")
    return Snooze.objects.create(
        worker=worker,
        kind=kind,
        severity=severity,
        until=timezone.now() + timedelta(minutes=minutes),
        reason=reason[:300],
        by=by,
    )


def worker_evaluate(*, worker_id: int, now: datetime | None = None) -> list[Alert]:
    """Run every reading-driven rule for one worker and apply the verdicts.
    Idempotent: evaluating again with the same readings changes nothing."""
    return workers_evaluate(worker_ids=[worker_id], now=now)


def workers_evaluate(*, worker_ids: list[int] | set[int], now: datetime | None = None) -> list[Alert]:
    """``worker_evaluate`` for many workers at once, for a cost that grows
    with their readings rather than with their number: their windows,
    profiles, thresholds and open alerts are loaded in a few queries, and a
    verdict that changes nothing (a clear rule with no alert open) writes
    nothing. Workers without consent are skipped (no consent, no
    processing: readings stored before a withdrawal stay unjudged)."""
    from alerts.rules.engine import evaluate_window
    from alerts.selectors import profiles_load, thresholds_for_sites, windows_load
    from workers.selectors import workers_with_consent

    now = now or timezone.now()
    workers = list(workers_with_consent(Worker.objects.filter(pk__in=worker_ids)).select_related("site"))
    if not workers:
        return []
    ids = [w.pk for w in workers]
    windows = windows_load(ids, now)
    profiles = profiles_load(workers, now)
    thresholds = thresholds_for_sites({w.site_id for w in workers})
    open_kinds = set(
        Alert.objects.filter(worker_id__in=ids).exclude(status=AlertStatus.RESOLVED).values_list("worker_id", "kind")
    )
    touched: list[Alert] = []
    for worker in workers:
        for verdict in evaluate_window(windows[worker.pk], profiles[worker.pk], thresholds[worker.site_id]):
            if verdict.state is not State.ACTIVE and (worker.pk, verdict.kind) not in open_kinds:
                continue  # alert_apply would find no alert to touch
            alert = alert_apply(worker_id=worker.pk, evaluation=verdict, now=now)
            if alert is not None:
                touched.append(alert)
    return touched


def evaluations_run(
    *,
    worker_ids: list[int] | set[int],
    urgent: bool = False,
    scheduled: str | None = None,
    every_worker: bool = False,
) -> int:
    """Evaluate those of ``worker_ids`` whose readings still need it, as
    recorded in the outbox (devices.models.EvaluationDue), and record that
    they are evaluated. ``urgent``: only those with an SOS or a fall pending.
    ``every_worker``: evaluate all of ``worker_ids`` (time alone changes some
    verdicts), clearing the pending marks of those it could claim.

    Safe to run twice, at once or in turn, for the same workers: each
    pending worker is claimed with a conditional UPDATE, and a worker
    claimed by another run (or with nothing pending) is left alone. If the
    evaluation fails, the claims are given back and the marks stay for a
    retry or the sweeper; if the process dies, the claims' lease runs out.
    An SOS or a fall stored while the evaluation ran is evaluated at once
    after it. Returns how many workers were evaluated.
    """
    from devices.services import evaluations_claim, evaluations_release

    conf = settings.ALERTS
    token = uuid.uuid4().hex
    lease = timedelta(seconds=conf["CLAIM_LEASE_S"])
    ids = sorted(set(worker_ids))
    evaluated = 0
    for _ in range(3):
        claimed_at = timezone.now()
        claims = evaluations_claim(
            worker_ids=ids, token=token, now=claimed_at, lease=lease, urgent_only=urgent, scheduled=scheduled
        )
        to_evaluate = ids if every_worker else [c.worker_id for c in claims]
        if not to_evaluate:
            break
        try:
            workers_evaluate(worker_ids=to_evaluate, now=timezone.now())
        except BaseException:
            evaluations_release(claims=claims, token=token, claimed_at=claimed_at, now=timezone.now(), done=False)
            raise
        done_at = timezone.now()
        still_urgent = evaluations_release(claims=claims, token=token, claimed_at=claimed_at, now=done_at)
        _record_lag(claims, done_at)
        evaluated += len(to_evaluate)
        ids, urgent, scheduled, every_worker = sorted(still_urgent), True, None, False
        if not ids:
            break
    return evaluated


def _record_lag(claims: list, done_at: datetime) -> None:
    for claim in claims:
        if claim.pending_since is not None:
            lag = (done_at - claim.pending_since).total_seconds()
            EVALUATION_LAG.observe(lag, urgent=claim.urgent)
            metrics.EVALUATION_LAG.observe(lag)  # /metrics, across the processes of a host


def evaluations_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Re-enqueue the evaluations that the outbox says are overdue: an SOS
    or a fall not evaluated within URGENT_SWEEP_AFTER_S of its storage, other
    readings not evaluated within EVALUATE_EVERY_S plus a grace. The request
    was lost (Redis restarted, refused it or was down when the readings were
    stored) or the worker running it died. Returns (urgent, routine) counts."""
    from alerts.tasks import evaluate_workers, evaluate_workers_urgent
    from devices.services import evaluations_schedule
    from healthhub.dispatch import enqueue

    conf = settings.ALERTS
    now = now or timezone.now()
    overdue = evaluations_schedule(
        now=now,
        token=uuid.uuid4().hex,
        urgent_after=timedelta(seconds=conf["URGENT_SWEEP_AFTER_S"]),
        routine_after=timedelta(seconds=conf["EVALUATE_EVERY_S"] + conf["ROUTINE_SWEEP_GRACE_S"]),
        routine_every=timedelta(seconds=conf["EVALUATE_EVERY_S"]),
        urgent_lease=timedelta(seconds=conf["URGENT_SWEEP_AFTER_S"] * 3),
        routine_lease=timedelta(seconds=conf["CLAIM_LEASE_S"]),
    )
    if overdue.urgent:
        log.warning("re-enqueued overdue urgent evaluations for workers %s", overdue.urgent)
    size = conf["EVALUATE_BATCH"]
    for start in range(0, len(overdue.urgent), size):
        enqueue(evaluate_workers_urgent, overdue.urgent[start : start + size], overdue.token)
    for start in range(0, len(overdue.routine), size):
        enqueue(evaluate_workers, overdue.routine[start : start + size], overdue.token)
    return len(overdue.urgent), len(overdue.routine)


def signals_check(*, now: datetime | None = None) -> int:
    """Signal lost, and its recovery, for every worker with an active device.
    Returns how many workers have a signal-lost alert active.

    One query for the workers with their newest last-seen time, one for the
    shifts around now, and alert writes only where a verdict changes
    something (alert_apply is a no-op for a clear worker without an alert).
    """
    from django.db.models import Max, Q

    from alerts.rules.device import evaluate_signal
    from alerts.selectors import thresholds_for
    from workers.models import Shift
    from workers.selectors import worker_on_shift, workers_with_consent

    now = now or timezone.now()
    active_devices = Q(devices__status=DeviceStatus.ACTIVE)
    workers = (
        workers_with_consent(Worker.objects.filter(active_devices))
        .annotate(last_seen=Max("devices__last_seen_at", filter=active_devices))
        .select_related("site")
    )
    scheduled: dict[int, list[tuple[datetime, datetime]]] = {}
    around = Shift.objects.filter(starts_at__lte=now + timedelta(hours=24), ends_at__gte=now - timedelta(hours=24))
    for worker_id, start, end in around.values_list("worker_id", "starts_at", "ends_at"):
        scheduled.setdefault(worker_id, []).append((start, end))
    open_signal = set(
        Alert.objects.filter(kind="signal_lost")
        .exclude(status=AlertStatus.RESOLVED)
        .values_list("worker_id", flat=True)
    )
    thresholds: dict[int, object] = {}
    active = 0
    for worker in workers.iterator(chunk_size=1000):
        if worker.site_id not in thresholds:
            thresholds[worker.site_id] = thresholds_for(worker.site_id)
        on_shift = worker_on_shift(worker, now, scheduled=scheduled.get(worker.pk, []))
        verdict = evaluate_signal(worker.last_seen, now, on_shift, thresholds[worker.site_id])
        if verdict.state is State.ACTIVE:
            active += 1
        elif worker.pk not in open_signal:
            continue  # nothing to clear
        alert_apply(worker_id=worker.pk, evaluation=verdict, now=now)
    return active


def baseline_refresh(*, worker_id: int, now: datetime | None = None) -> Baseline | None:
    """Recompute one worker's resting heart-rate baseline from the last 14 days."""
    from django.db.models import Avg, Case, Sum, When

    from alerts.baselines import baseline_from, resting_minutes
    from devices.buckets import EpochBucket
    from devices.models import Reading

    now = now or timezone.now()
    rows = (
        Reading.objects.filter(
            worker_id=worker_id, metric__in=("heart_rate", "steps"), measured_at__gte=now - timedelta(days=14)
        )
        .annotate(minute=EpochBucket("measured_at", 60))
        .values_list("minute", "metric")
        # Heart rate per minute is a mean; steps per minute are a count.
        .annotate(value=Case(When(metric="steps", then=Sum("value")), default=Avg("value")))
        .order_by()
    )
    resting = resting_minutes(rows)
    computed = baseline_from(resting)
    baseline, _ = Baseline.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "rest_hr_median": computed[0] if computed else None,
            "rest_hr_spread": computed[1] if computed else None,
            "minutes": len(resting),
            "computed_at": now,
        },
    )
    return baseline


def worker_acclimatization_infer(*, worker_id: int, now: datetime | None = None) -> bool | None:
    """Settle an unknown acclimatization from the worker's own wearable: after
    enough days of work in the heat within the last two weeks
    (alerts.rules.heat.acclimatized_from_exposure), the worker counts as
    acclimatized. A recorded value (a clinician's yes or no) is never
    changed. Returns the worker's acclimatization afterwards."""
    from django.db.models import Avg

    from alerts.rules.heat import ACCLIMATIZATION_WINDOW_DAYS, HEAT_EXPOSURE_AIR, acclimatized_from_exposure
    from devices.buckets import EpochBucket
    from devices.models import Reading

    now = now or timezone.now()
    worker = Worker.objects.filter(pk=worker_id).only("acclimatized").first()
    if worker is None or worker.acclimatized is not None:
        return worker.acclimatized if worker else None
    hot_minutes = (
        Reading.objects.filter(
            worker_id=worker_id,
            metric="ambient_temp",
            measured_at__gte=now - timedelta(days=ACCLIMATIZATION_WINDOW_DAYS),
        )
        .annotate(minute=EpochBucket("measured_at", 60))
        .values("minute")
        .annotate(air=Avg("value"))
        .filter(air__gte=HEAT_EXPOSURE_AIR)
        .values_list("minute", flat=True)
    )
    per_day: dict[int, int] = {}
    for minute in hot_minutes:
        per_day[minute // 86400] = per_day.get(minute // 86400, 0) + 1
    verdict = acclimatized_from_exposure(list(per_day.values()))
    if verdict is not None:
        Worker.objects.filter(pk=worker_id, acclimatized__isnull=True).update(acclimatized=verdict)
    return verdict


def evaluation_request(*, worker_id: int, urgent: bool = False) -> bool:
    """Ask for one worker's alerts to be re-evaluated soon, whether or not
    new readings are pending (a check-in changed what the rules know).
    Coalesced like ``evaluations_request``; returns whether a task was
    enqueued."""
    from alerts.tasks import evaluate_worker, evaluate_worker_urgent, pending_key
    from healthhub.dispatch import enqueue

    conf = settings.ALERTS
    timeout = conf["URGENT_COALESCE_S"] if urgent else conf["EVALUATE_EVERY_S"]
    if not flags_raise([pending_key(worker_id, urgent=urgent)], timeout)[0]:
        return False
    enqueue(evaluate_worker_urgent if urgent else evaluate_worker, worker_id)
    return True


def evaluations_request(*, worker_ids: set[int], urgent_ids: set[int] | frozenset[int] = frozenset()) -> int:
    """Ask for these workers' alerts to be re-evaluated soon, without
    waiting: the fast path. What must be evaluated is already in the outbox
    (written with the readings), and the sweeper enqueues what this path
    loses, so a failure here (Redis down or refusing writes) is logged once
    per outage and otherwise ignored; for FAST_PATH_PAUSE_S after one the
    path is not even tried, so that ingestion does not wait on a dead broker.

    Routine requests are coalesced and rate-limited per worker: the first
    sets a flag (an atomic cache add, shared by all processes when the cache
    is Redis) that lasts EVALUATE_EVERY_S, during which further requests add
    nothing; the workers that pass go in tasks of up to EVALUATE_BATCH
    workers each. Urgent requests (a batch with an SOS or a fall) go to the
    "urgent" queue, one task per worker, which every Celery worker consumes
    first; they are coalesced for a moment only. Returns how many tasks were
    enqueued.
    """
    from alerts.tasks import evaluate_worker_urgent, evaluate_workers, pending_key
    from healthhub.dispatch import enqueue

    if not _fast_path.open():
        return 0
    conf = settings.ALERTS
    enqueued = 0
    try:
        urgent = sorted(urgent_ids)
        raised = flags_raise([pending_key(w, urgent=True) for w in urgent], conf["URGENT_COALESCE_S"])
        for worker_id, first in zip(urgent, raised, strict=True):
            if first:
                enqueue(evaluate_worker_urgent, worker_id)
                enqueued += 1
        candidates = sorted(set(worker_ids) - set(urgent_ids))
        raised = flags_raise([pending_key(w) for w in candidates], conf["EVALUATE_EVERY_S"])
        routine = [worker_id for worker_id, first in zip(candidates, raised, strict=True) if first]
        size = conf["EVALUATE_BATCH"]
        for start in range(0, len(routine), size):
            enqueue(evaluate_workers, routine[start : start + size])
            enqueued += 1
    except Exception as exc:
        _fast_path.failed(exc)
        return enqueued
    _fast_path.worked()
    return enqueued


class _FastPathBreaker:
    """After a failed request, the fast path rests for FAST_PATH_PAUSE_S
    (the outbox and the sweeper cover it), and the outage is logged once,
    when it starts, and once when a request goes through again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.resume_at = 0.0
        self.down = False

    def open(self) -> bool:
        return time.monotonic() >= self.resume_at

    def failed(self, exc: Exception) -> None:
        with self.lock:
            self.resume_at = time.monotonic() + settings.ALERTS["FAST_PATH_PAUSE_S"]
            if self.down:
                return
            self.down = True
        log.error("evaluation requests cannot be enqueued (%s); the sweeper will re-enqueue them", exc)

    def worked(self) -> None:
        if self.down:
            with self.lock:
                self.down = False
            log.warning("evaluation requests are enqueued again")


_fast_path = _FastPathBreaker()


RESPONDER_STEPS = {"on_my_way": AlertEvent.Action.ON_MY_WAY, "with_worker": AlertEvent.Action.WITH_WORKER}


@transaction.atomic
def alert_respond(*, alert_id: int, by: AbstractBaseUser, step: str) -> Alert:
    """A safety officer marks themself on the way to, then with, the worker
    of an open SOS or fall. It is history for the desk; the clinicians still
    acknowledge (the escalation chain goes on until they do)."""
    if step not in RESPONDER_STEPS:
        raise AlertActionError(f"unknown step {step!r}")
    alert = _locked(alert_id)
    if alert.kind not in ("sos", "fall") or alert.status == AlertStatus.RESOLVED:
        raise AlertActionError("only an unresolved SOS or fall takes a responder")
    if alert.responder_status == "with_worker" and step == "on_my_way":
        raise AlertActionError("a responder is already with the worker")
    now = timezone.now()
    alert.responder = by
    alert.responder_status = step
    alert.responder_at = now
    alert.save(update_fields=["responder", "responder_status", "responder_at"])
    _event(alert, RESPONDER_STEPS[step], now, by)
    _publish(alert, "responder")
    return alert


def zone_record(*, worker_id: int, zone: str, at: datetime) -> None:
    """Where the worker's device says they are; an open SOS or fall follows
    the worker (the responder's page shows the latest zone)."""
    WorkerZone.objects.update_or_create(worker_id=worker_id, defaults={"zone": zone, "reported_at": at})
    Alert.objects.filter(worker_id=worker_id, kind__in=("sos", "fall")).exclude(status=AlertStatus.RESOLVED).update(
        zone=zone
    )
