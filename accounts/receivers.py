"""Sign-in receivers: mark the session when a user signs in and when the
second factor is used. Connected in AccountsConfig.ready()."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.policy import SESSION_SECOND_FACTOR_USER, SESSION_SEEN_AT, SESSION_SIGNED_IN_AT


@receiver(user_logged_in, dispatch_uid="healthhub.security.signed_in")
def _mark_signed_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[SESSION_SIGNED_IN_AT] = now
    request.session[SESSION_SEEN_AT] = now


def _mark_second_factor(request: HttpRequest | None, user: AbstractBaseUser) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_SECOND_FACTOR_USER] = str(user.pk)


@receiver(mfa_signals.authenticator_used, dispatch_uid="healthhub.security.factor_used")
def _on_authenticator_used(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
    # The TOTP (or recovery code) step at sign-in, or a re-authentication.
    _mark_second_factor(request, user)


@receiver(mfa_signals.authenticator_added, dispatch_uid="healthhub.security.factor_added")
def _on_authenticator_added(
    sender: Any, request: HttpRequest, user: AbstractBaseUser, authenticator: Authenticator, **kwargs: Any
) -> None:
    # Activating the app needs a valid code from it: that is the second
    # factor for this session too, so the new user is not sent to sign in again.
    if authenticator.type == Authenticator.Type.TOTP:
        _mark_second_factor(request, user)


# -- HTTP -------------------------------------------------------------------------
