"""Writes about workers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from workers.models import (
    AccessAction,
    AccessLog,
    CheckIn,
    Consent,
    ConsentDecision,
    ConsentText,
    Worker,
    WorkerEvent,
)
from workers.signals import consent_withdrawn, health_data_changed

ACCESS_LOG_COALESCE_S = 600


def access_log_record(*, accessor: AbstractBaseUser, worker: Worker, what: str, reason: str = "") -> None:
    """Record a read of ``worker``'s health data by someone else. A worker
    reading their own data is not logged. A page that refreshes itself
    (a clinician's open worker page polls every few seconds) writes one entry
    per ACCESS_LOG_COALESCE_S for the same reader, worker, what and reason,
    so "who viewed my data" stays readable; the first read is always logged."""
    if worker.user_id == accessor.pk:
        return
    what, reason = what[:200], reason[:200]
    recent = timezone.now() - timedelta(seconds=ACCESS_LOG_COALESCE_S)
    same = AccessLog.objects.filter(accessor=accessor, worker=worker, what=what, reason=reason, at__gte=recent)
    if not same.exists():
        AccessLog.objects.create(accessor=accessor, worker=worker, what=what, reason=reason)


def access_log_push(*, accessor: AbstractBaseUser, worker_id: int, what: str, item: str, origin: str) -> bool:
    """Record that ``item`` (e.g. "alert:12") about worker ``worker_id`` was
    pushed to ``accessor``'s open screen: one row per record per recipient,
    however often it is sent again (the unique constraint decides, so two
    sockets or processes racing write one row). The worker's own pushes are
    not logged. Returns whether a row was written."""
    owner = Worker.objects.filter(pk=worker_id).values_list("user_id", flat=True).first()
    if owner is None or owner == accessor.pk:
        return False
    try:
        with transaction.atomic():
            AccessLog.objects.create(
                accessor=accessor,
                worker_id=worker_id,
                what=what[:200],
                item=item[:64],
                origin=origin,
                action=AccessAction.PUSH,
            )
    except IntegrityError:
        return False
    return True


def worker_event_record(*, worker_id: int, kind: str, detail: str = "", by: AbstractBaseUser | None = None) -> None:
    """Tell the worker (on their privacy page) that ``kind`` happened to them."""
    by = by if by is not None and by.pk is not None else None
    WorkerEvent.objects.create(worker_id=worker_id, kind=kind, detail=detail[:200], by=by, at=timezone.now())


class NoConsent(Exception):
    """The worker has not consented to monitoring (or has withdrawn): no
    health data of theirs is taken in."""


def checkin_submit(
    *, worker: Worker, temperature: float | None, symptoms: list[str], now: datetime | None = None
) -> CheckIn:
    """Record today's check-in (the site's local day), replacing an earlier
    one of the same day, and have the worker's alerts re-evaluated (a
    thermometer value of 37.5 °C or more is a fever)."""
    from workers.selectors import worker_has_consent

    if not worker_has_consent(worker.pk):
        raise NoConsent("monitoring needs the worker's consent")
    now = now or timezone.now()
    unknown = set(symptoms) - set(CheckIn.SYMPTOMS)
    if unknown:
        raise ValueError(f"unknown symptoms: {sorted(unknown)}")
    if temperature is not None and not 30 <= temperature <= 45:
        raise ValueError("temperature must be between 30 and 45 °C")
    day = now.astimezone(ZoneInfo(worker.site.timezone)).date()
    fields = {name: name in symptoms for name in CheckIn.SYMPTOMS}
    with transaction.atomic():
        checkin, _ = CheckIn.objects.update_or_create(
            worker=worker, day=day, defaults={"temperature": temperature, "submitted_at": now, **fields}
        )
        transaction.on_commit(lambda: health_data_changed.send(sender=CheckIn, worker_id=worker.pk))
    return checkin


def consent_text_ensure() -> ConsentText:
    """The newest published consent text. A database without any (one
    emptied after migrating) gets the initial text of workers/consent.py
    published first, as migration 0005 does."""
    from workers.consent import INITIAL_PUBLISHED_AT, INITIAL_TEXT_EN, INITIAL_TEXT_KO, INITIAL_VERSION

    text = ConsentText.objects.order_by("-version").first()
    if text is None:
        text, _ = ConsentText.objects.get_or_create(
            version=INITIAL_VERSION,
            defaults={"text_ko": INITIAL_TEXT_KO, "text_en": INITIAL_TEXT_EN, "published_at": INITIAL_PUBLISHED_AT},
        )
    return text


class ConsentError(Exception):
    """A consent decision that cannot be recorded: no text has been published."""


def consent_grant(
    *,
    worker: Worker,
    text: ConsentText | None = None,
    by: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> Consent:
    """Record that ``worker`` agrees to monitoring under ``text`` (default:
    the newest published version). Appends to the history, never changes
    it; agreeing again to the version already agreed to records nothing and
    returns the standing decision."""
    from workers.selectors import consent_latest, consent_text_current

    now = now or timezone.now()
    text = text or consent_text_current()
    if text is None:
        raise ConsentError("no consent text has been published")
    with transaction.atomic():
        # Lock the worker's row: two grants at once record one decision.
        Worker.objects.select_for_update().filter(pk=worker.pk).first()
        latest = consent_latest(worker.pk)
        if latest is not None and latest.decision == ConsentDecision.GRANTED and latest.text_id == text.pk:
            return latest
        return Consent.objects.create(
            worker=worker, text=text, decision=ConsentDecision.GRANTED, at=now, recorded_by=by
        )


def consent_withdraw(
    *, worker: Worker, by: AbstractBaseUser | None = None, now: datetime | None = None
) -> Consent | None:
    """Record that ``worker`` withdraws consent: monitoring stops. Appends a
    withdrawal under the text they had agreed to, and after commit tells
    each of the worker's device connections (``device.consent_withdrawn`` to
    its device group), which closes it with 4403. Withdrawing without a
    standing consent records nothing and returns None."""
    from workers.selectors import consent_latest

    now = now or timezone.now()
    with transaction.atomic():
        Worker.objects.select_for_update().filter(pk=worker.pk).first()
        latest = consent_latest(worker.pk)
        if latest is None or latest.decision != ConsentDecision.GRANTED:
            return None
        consent = Consent.objects.create(
            worker=worker, text_id=latest.text_id, decision=ConsentDecision.WITHDRAWN, at=now, recorded_by=by
        )
        transaction.on_commit(lambda: consent_withdrawn.send(sender=Consent, worker_id=worker.pk))
    return consent


# What a clinician records on a worker for the alert rules.
HEAT_PROFILE_FIELDS = ("acclimatized", "hypercapnic_respiratory_failure")


def worker_heat_profile_update(*, worker: Worker, by: AbstractBaseUser, changes: dict[str, bool | None]) -> Worker:
    """A clinician records what the alert rules must know about a worker:
    heat acclimatization (True, False, or None: back to unknown) and
    hypercapnic respiratory failure (SpO2 judged on NEWS2 scale 2). Fields
    not in ``changes`` are left as they are; the change is logged as an
    access to the worker's health data."""
    unknown = set(changes) - set(HEAT_PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not part of the heat profile: {sorted(unknown)}")
    if changes.get("hypercapnic_respiratory_failure", False) is None:
        raise ValueError("hypercapnic_respiratory_failure is true or false")
    for name, value in changes.items():
        setattr(worker, name, value)
    if changes:
        worker.save(update_fields=list(changes))
        access_log_record(accessor=by, worker=worker, what="clinical profile", reason="updated " + ", ".join(changes))
    return worker
