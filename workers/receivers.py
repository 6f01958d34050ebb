"""The other side of "a worker's sign-in is never a staff account"
(Worker.save guards the worker record): a worker's user is not made Django
staff or superuser, and gets no clinician, HR or administrator profile.
Connected in WorkersConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save

from workers.models import StaffProfile, Worker
from workers.services import WorkerUserError


def refuse_staff_worker_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None or not (instance.is_staff or instance.is_superuser):
        return
    if Worker.objects.filter(user_id=instance.pk).exists():
        raise WorkerUserError("a worker's sign-in cannot be made a staff account")


def refuse_staff_profile_for_worker(sender: Any, instance: StaffProfile, **kwargs: Any) -> None:
    if Worker.objects.filter(user_id=instance.user_id).exists():
        raise WorkerUserError("a worker's sign-in cannot have a staff role")


def connect() -> None:
    pre_save.connect(refuse_staff_worker_user, sender=get_user_model(), dispatch_uid="workers.refuse_staff_worker_user")
    pre_save.connect(
        refuse_staff_profile_for_worker, sender=StaffProfile, dispatch_uid="workers.refuse_staff_profile_for_worker"
    )
