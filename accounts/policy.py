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

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt, encrypt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from workers.roles import staff_profile

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
