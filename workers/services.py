"""Writes about workers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from workers.models import AccessLog, CheckIn, Worker


def access_log_record(*, accessor: AbstractBaseUser, worker: Worker, what: str, reason: str = "") -> None:
    """Record a read of ``worker``'s health data by someone else. A worker
    reading their own data is not logged."""
    if worker.user_id == accessor.pk:
        return
    AccessLog.objects.create(accessor=accessor, worker=worker, what=what[:200], reason=reason[:200])


def checkin_submit(
    *, worker: Worker, temperature: float | None, symptoms: list[str], now: datetime | None = None
) -> CheckIn:
    """Record today's check-in (the site's local day), replacing an earlier
    one of the same day, and have the worker's alerts re-evaluated (a
    thermometer value of 37.5 °C or more is a fever)."""
    from alerts.services import evaluation_request

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
        transaction.on_commit(lambda: evaluation_request(worker_id=worker.pk))
    return checkin
