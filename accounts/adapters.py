"""The small adapters that fit allauth and django-axes to the sign-in policy."""

from __future__ import annotations

import time
import unicodedata
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from accounts.policy import is_staff_member


class LoginForm(AllauthLoginForm):
    """allauth's login form with the username posted as ``username`` (the
    usual name, that password managers and the existing page use) rather
    than allauth's ``login``."""

    def add_prefix(self, field_name: str) -> str:
        return super().add_prefix("username" if field_name == "login" else field_name)


class AccountAdapter(DefaultAccountAdapter):
    # Only the messages a person can act on; allauth's own texts are replaced
    # so that every one shown has a Korean translation in our catalogue.
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "account_inactive": _("This account is disabled. Ask your site administrator."),
        "incorrect_code": _("Incorrect code."),
        "incorrect_password": _("Incorrect password."),
        "invalid_login": _("Your username and password didn't match. Please try again."),
        "rate_limited": _("Too many attempts. Please wait a moment and try again."),
        "too_many_login_attempts": _("Too many attempts. Please wait a moment and try again."),
        "username_password_mismatch": _("Your username and password didn't match. Please try again."),
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by administrators.
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # django-axes counts failed passwords per username and address. allauth's
        # own count is per username from anywhere, which would let anyone lock
        # a colleague out, so it is not used for passwords (it still limits
        # authenticator codes).
        return None

    def add_message(self, request: HttpRequest, level: int, message_template: str | None = None, *args, **kwargs):
        # "Signed in as ..." and "You have signed out" say what the next page
        # shows anyway; the pages here do not display them.
        if message_template in {"account/messages/logged_in.txt", "account/messages/logged_out.txt"}:
            return
        super().add_message(request, level, message_template, *args, **kwargs)

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        # Having typed the password at sign-in a few minutes ago is as good as
        # typing it again: staff sent to enrol right after signing in are not
        # asked for it twice.
        request = allauth_context.request
        if request is not None and request.user.is_authenticated:
            records = get_authentication_records(request, request.user)
            signed_in = [record["at"] for record in records if record.get("method") == "password"]
            if signed_in and time.time() - max(signed_in) < account_settings.REAUTHENTICATION_TIMEOUT:
                return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def get_reauthentication_methods(self, user: AbstractBaseUser | AnonymousUser) -> list[dict]:
        descriptions = {
            "reauthenticate": _("Use your password"),
            "mfa_reauthenticate": _("Use your authenticator app or a recovery code"),
        }
        methods = super().get_reauthentication_methods(user)
        for method in methods:
            method["description"] = descriptions.get(method["id"], method["description"])
        return methods


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "Staff accounts must keep two-factor authentication. Ask a superuser to reset it if you lost your phone."
        ),
        "incorrect_code": _("Incorrect code."),
    }

    def get_totp_issuer(self) -> str:
        return "healthhub"

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        return not (settings.HEALTHHUB_REQUIRE_MFA and is_staff_member(authenticator.user))


# -- django-axes ------------------------------------------------------------------------


class AxesBackend(AxesStandaloneBackend):
    """axes' lockout check, first among the authentication backends. A call
    without a request (a management command, a test, the shell) is not a
    sign-in anyone can repeat, so it is neither counted nor refused."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_text() -> str:
    return _(
        "Too many failed sign-in attempts. For your safety, signing in with this username from here is blocked "
        "for %(minutes)s minutes. Try again later, or ask your site administrator."
    ) % {"minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """What a locked-out sign-in gets: the login page with the reason (429),
    or JSON for the API."""
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path_info.startswith("/api/") or request.headers.get("x-requested-with") == "XMLHttpRequest":
        return JsonResponse({"detail": lockout_text(), "code": "locked_out"}, status=status)
    form = LoginForm(request=request, initial={"login": (credentials or {}).get("username", "")})
    context = {"form": form, "locked_out_message": lockout_text(), "redirect_field_value": request.POST.get("next")}
    return render(request, "account/login.html", context, status=status)


def lockout_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes counts failures under: as sign-in matches it
    (allauth looks usernames up case-insensitively), so "Clinician" and
    "CLINICIAN" are counted as "clinician"."""
    raw = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD)
    if raw is None and request is not None:
        raw = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    if not isinstance(raw, str):
        return raw
    return unicodedata.normalize("NFKC", raw).strip().casefold()


# -- DRF ---------------------------------------------------------------------------------
