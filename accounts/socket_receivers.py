"""What closes a user's browser sockets (accounts.sockets), sent after the
change commits. Connected in AccountsConfig.ready().

- signing out (also the sign-out of an expired or second-factor-less
  session by accounts.middleware): that session's sockets;
- a password change, deactivation, a change of Django staff or superuser
  status, the user deleted: all of the user's sockets;
- an authenticator app removed or reset (allauth's signals, or a row
  deleted in the admin): all of them;
- a staff profile created, changed or deleted, its sites changed (from
  either side), a worker record created, re-pointed or deleted: all of the
  sockets of the users concerned.

Idle expiry sends nothing (nothing happens): each socket re-checks its
session every SOCKET_RECHECK_S seconds instead.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save
from django.http import HttpRequest

from accounts.sockets import session_fingerprint
from healthhub.live import user_sockets_close_on_commit
from workers.models import StaffProfile, Worker

# The user fields whose change ends what a session was allowed.
_WATCHED_USER_FIELDS = ("password", "is_active", "is_staff", "is_superuser")


def _signed_out(sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is None or user.pk is None:
        return
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    # Sent before Django flushes the session: the event names the session so
    # its sockets close without re-checking (the re-check could still see it).
    user_sockets_close_on_commit(
        user.pk, reason="signed_out", session=session_fingerprint(session_key) if session_key else None
    )


def _remember_user_fields(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    # Deferred fields are not loaded: reading them here would query.
    loaded = instance.__dict__
    instance._sockets_watched = tuple(loaded.get(name) for name in _WATCHED_USER_FIELDS)


def _user_saved(sender: Any, instance: AbstractBaseUser, created: bool, **kwargs: Any) -> None:
    now = tuple(instance.__dict__.get(name) for name in _WATCHED_USER_FIELDS)
    before = getattr(instance, "_sockets_watched", None)
    instance._sockets_watched = now
    if created or before is None:
        return
    changed = [
        name for name, old, new in zip(_WATCHED_USER_FIELDS, before, now, strict=True) if old is not None and old != new
    ]
    if changed:
        user_sockets_close_on_commit(instance.pk, reason="user_changed:" + ",".join(changed))


def _user_deleted(sender: Any, instance: AbstractBaseUser, **kwargs: Any) -> None:
    user_sockets_close_on_commit(instance.pk, reason="user_deleted")


def _authenticator_changed(sender: Any, user: AbstractBaseUser | None = None, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        user_sockets_close_on_commit(user.pk, reason="second_factor_changed")


def _authenticator_deleted(sender: Any, instance: Authenticator, **kwargs: Any) -> None:
    user_sockets_close_on_commit(instance.user_id, reason="second_factor_changed")


def _staff_profile_changed(sender: Any, instance: StaffProfile, **kwargs: Any) -> None:
    user_sockets_close_on_commit(instance.user_id, reason="role_changed")


def _staff_sites_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: set | None, **kwargs: Any):
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:  # profile.sites.add(...)
        if action != "pre_clear":
            user_sockets_close_on_commit(instance.user_id, reason="sites_changed")
        return
    # site.staff.add(profile, ...): pk_set holds profiles (none on clear: taken before it)
    if action == "pre_clear":
        profile_ids = list(instance.staff.values_list("pk", flat=True))
    elif action == "post_clear":
        return
    else:
        profile_ids = list(pk_set or ())
    for user_id in StaffProfile.objects.filter(pk__in=profile_ids).values_list("user_id", flat=True):
        user_sockets_close_on_commit(user_id, reason="sites_changed")


def _remember_worker_user(sender: Any, instance: Worker, **kwargs: Any) -> None:
    instance._sockets_user_id = instance.__dict__.get("user_id")


def _worker_saved(sender: Any, instance: Worker, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_sockets_user_id", None)
    instance._sockets_user_id = instance.user_id
    if created:
        user_sockets_close_on_commit(instance.user_id, reason="worker_record_changed")
    elif before is not None and before != instance.user_id:
        user_sockets_close_on_commit(before, reason="worker_record_changed")
        user_sockets_close_on_commit(instance.user_id, reason="worker_record_changed")


def _worker_deleted(sender: Any, instance: Worker, **kwargs: Any) -> None:
    user_sockets_close_on_commit(instance.user_id, reason="worker_record_changed")


def connect() -> None:
    user_model = get_user_model()
    user_logged_out.connect(_signed_out, dispatch_uid="accounts.sockets.signed_out")
    post_init.connect(_remember_user_fields, sender=user_model, dispatch_uid="accounts.sockets.user_init")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="accounts.sockets.user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="accounts.sockets.user_deleted")
    for signal in (mfa_signals.authenticator_removed, mfa_signals.authenticator_reset):
        signal.connect(_authenticator_changed, dispatch_uid=f"accounts.sockets.mfa.{id(signal)}")
    post_delete.connect(_authenticator_deleted, sender=Authenticator, dispatch_uid="accounts.sockets.mfa_deleted")
    post_save.connect(_staff_profile_changed, sender=StaffProfile, dispatch_uid="accounts.sockets.profile_saved")
    post_delete.connect(_staff_profile_changed, sender=StaffProfile, dispatch_uid="accounts.sockets.profile_deleted")
    m2m_changed.connect(_staff_sites_changed, sender=StaffProfile.sites.through, dispatch_uid="accounts.sockets.sites")
    post_init.connect(_remember_worker_user, sender=Worker, dispatch_uid="accounts.sockets.worker_init")
    post_save.connect(_worker_saved, sender=Worker, dispatch_uid="accounts.sockets.worker_saved")
    post_delete.connect(_worker_deleted, sender=Worker, dispatch_uid="accounts.sockets.worker_deleted")
