"""Writes about workers."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from workers.models import AccessLog, Worker


def access_log_record(*, accessor: AbstractBaseUser, worker: Worker, what: str, reason: str = "") -> None:
    """Record a read of ``worker``'s health data by someone else. A worker
    reading their own data is not logged."""
    if worker.user_id == accessor.pk:
        return
    AccessLog.objects.create(accessor=accessor, worker=worker, what=what[:200], reason=reason[:200])
