"""The HTTP and ASGI guards that apply the sign-in policy (accounts.policy)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.policy import (
    CLOSE_FORBIDDEN,
    SEEN_AT_RESOLUTION_S,
    SESSION_SEEN_AT,
    SESSION_SIGNED_IN_AT,
    Verdict,
    access_verdict,
    session_expired,
)


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
