"""Sign-in and safety, in one place.

- Staff (clinicians, HR, site administrators, and anyone with Django's
  ``is_staff`` or ``is_superuser``) must have an authenticator app (TOTP, with
  recovery codes) and must have used it in the current session before they
  see anything: pages redirect to the enrolment page, the API answers 403,
  browser sockets are closed with 4403. Workers may enrol but are not forced.
- Sessions end 8 hours after sign-in whatever happens (``SESSION_COOKIE_AGE``)
  and, for staff, after ``STAFF_IDLE_TIMEOUT`` seconds without a request.
- Repeated failed sign-ins lock a username out from one address for a while
  (django-axes); the login page says so.

django-allauth does the sign-in, the TOTP step, enrolment and recovery codes;
this module holds the policy (``access_verdict``), the HTTP and ASGI guards
that apply it, and the small adapters that fit allauth and axes to it.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.core import context as allauth_context
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa import signals as mfa_signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt, encrypt
from axes.backends import AxesStandaloneBackend
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from healthhub.roles import staff_profile

# Session keys. The second-factor mark holds the user's primary key, so that
# a session can never carry it over to another user.
SESSION_SECOND_FACTOR_USER = "healthhub_second_factor_user"
SESSION_SIGNED_IN_AT = "healthhub_signed_in_at"
SESSION_SEEN_AT = "healthhub_seen_at"

# The last-seen time is written at most this often: an idle limit of 30
# minutes does not need a session write on every request.
SEEN_AT_RESOLUTION_S = 60

CLOSE_FORBIDDEN = 4403


class Verdict(StrEnum):
    OK = "ok"
    EXPIRED = "expired"  # absolute or idle limit passed: sign in again
    ENROL = "enrol"  # staff without an authenticator app
    VERIFY = "verify"  # staff whose session never passed the second factor


def is_staff_member(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Clinicians, HR, site administrators and Django staff: the people who
    see more than their own data, and so need a second factor and an idle
    timeout."""
    if not user.is_authenticated:
        return False
    return bool(user.is_staff or user.is_superuser or staff_profile(user) is not None)


def has_authenticator_app(user: AbstractBaseUser) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def session_expired(user: AbstractBaseUser, session: Any, now: float) -> bool:
    """True when the session is past its absolute limit (everyone) or its
    idle limit (staff). A session without the marks (one that predates them)
    is not expired: the marks are set on its next request."""
    signed_in_at = session.get(SESSION_SIGNED_IN_AT)
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        return True
    seen_at = session.get(SESSION_SEEN_AT)
    return seen_at is not None and now - seen_at > settings.STAFF_IDLE_TIMEOUT and is_staff_member(user)


def access_verdict(user: AbstractBaseUser | AnonymousUser, session: Any, now: float | None = None) -> Verdict:
    """Whether this user, with this session, may go on. Anonymous users are
    ``OK`` here: each view refuses them itself."""
    if not user.is_authenticated:
        return Verdict.OK
    if session_expired(user, session, time.time() if now is None else now):
        return Verdict.EXPIRED
    if not settings.HEALTHHUB_REQUIRE_MFA or not is_staff_member(user):
        return Verdict.OK
    if not has_authenticator_app(user):
        return Verdict.ENROL
    if session.get(SESSION_SECOND_FACTOR_USER) != str(user.pk):
        return Verdict.VERIFY
    return Verdict.OK


def authenticator_app_enrol(*, user: AbstractBaseUser, secret: str) -> None:
    """Give ``user`` an authenticator app with this TOTP ``secret`` (base32)
    and recovery codes, as enrolling on the website does; an existing app is
    switched to the secret. For the demo cast and tests: people enrol on the
    enrolment page, where allauth makes the secret."""
    updated = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).update(
        data={"secret": encrypt(secret)}
    )
    if not updated:
        TOTP.activate(user, secret)
    RecoveryCodes.activate(user)


def authenticator_app_secret(user: AbstractBaseUser) -> str | None:
    app = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).first()
    return None if app is None else decrypt(app.data["secret"])


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for ``secret`` at time ``at``
    (now by default), computed as allauth checks it."""
    counter = int(time.time() if at is None else at) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


# -- marks written at sign-in and when the second factor is used ----------------


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


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _always_open_prefixes() -> tuple[str, ...]:
    return (settings.STATIC_URL, "/i18n/", reverse("account_logout"), reverse("account_login"))


def _enrolment_prefixes() -> tuple[str, ...]:
    # The MFA pages (enrolment, recovery codes, the code step) and the
    # password confirmation allauth asks for before enrolment.
    return (reverse("mfa_index"), reverse("account_reauthenticate"))


class SessionExpiryMiddleware:
    """Signs out a session past its absolute or idle limit; the request then
    goes on as anonymous, so each view refuses it as it refuses anyone
    (pages to the login page, the API with 403). Refreshes the last-seen time
    otherwise."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            now = time.time()
            session = request.session
            if session_expired(user, session, now):
                logout(request)
                messages.info(request, _("You were signed out because your session expired. Please sign in again."))
            else:
                session.setdefault(SESSION_SIGNED_IN_AT, now)
                if now - session.get(SESSION_SEEN_AT, 0) >= SEEN_AT_RESOLUTION_S:
                    session[SESSION_SEEN_AT] = now
        return self.get_response(request)


class RequireSecondFactorMiddleware:
    """Staff without an authenticator app go to the enrolment page (the API
    gets 403); staff whose session skipped the second factor are signed out
    and sent to sign in. Switched off by ``HEALTHHUB_REQUIRE_MFA = False``."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.HEALTHHUB_REQUIRE_MFA and not request.path_info.startswith(_always_open_prefixes()):
            verdict = access_verdict(request.user, request.session)
            if verdict == Verdict.ENROL and not request.path_info.startswith(_enrolment_prefixes()):
                if _is_api(request):
                    return _forbidden_json(
                        "mfa_enrolment_required",
                        _("Set up two-factor authentication on the website before using the API."),
                    )
                return HttpResponseRedirect(reverse("mfa_activate_totp"))
            if verdict == Verdict.VERIFY:
                logout(request)
                if _is_api(request):
                    return _forbidden_json(
                        "mfa_required", _("Sign in on the website with your authenticator app code first.")
                    )
                return HttpResponseRedirect(
                    f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}"
                )
        return self.get_response(request)


def _forbidden_json(code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": str(detail), "code": code}, status=403)


def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin signs in through the one login page (with its second
    factor), never through its own password-only form."""
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return HttpResponseRedirect(reverse("admin:index"))
        # Signed in but not admin staff: the admin sent them here.
        raise PermissionDenied
    query = urlencode({"next": request.GET.get("next", reverse("admin:index"))})
    return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")


# -- browser sockets ------------------------------------------------------------------


@database_sync_to_async
def _socket_verdict(scope: dict[str, Any]) -> Verdict:
    user = scope.get("user") or AnonymousUser()
    session = scope.get("session")
    return access_verdict(user, session if session is not None else {})


class SocketSafetyMiddleware:
    """ASGI middleware for browser sockets, inside AuthMiddlewareStack: the
    same verdict as for pages, checked before the consumer sees the socket.
    Anything but ``OK`` is closed with 4403 before it is accepted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and await _socket_verdict(scope) != Verdict.OK:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})
            return
        await self.inner(scope, receive, send)


# -- allauth ------------------------------------------------------------------------


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


# -- DRF ---------------------------------------------------------------------------------


class BasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic for scripts and workers' apps. A password alone is one
    factor: staff must use the website's session, which passed the second."""

    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> tuple:
        user, auth = super().authenticate_credentials(userid, password, request)
        if settings.HEALTHHUB_REQUIRE_MFA and is_staff_member(user):
            raise exceptions.AuthenticationFailed(
                _("Staff accounts cannot use password-only API access: sign in on the website.")
            )
        return user, auth
