"""Which language a person writes and reads in, where no request has
activated one (a socket frame) or where it must be recorded (a chat message).
A worker's own choice (Worker.language) comes first; otherwise what their
browser asked for (the language cookie, then Accept-Language); otherwise the
site default."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.translation import get_language_info, get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def supported(code: str | None) -> str:
    """``code`` as one of settings.LANGUAGES ("vi" for "vi-VN"), or ""."""
    if not code:
        return ""
    try:
        return get_supported_language_variant(code.lower())
    except LookupError:
        return ""


def user_language(user: AbstractBaseUser | AnonymousUser | None, *, requested: str | None = None) -> str:
    """The language ``user`` uses: a worker's chosen one, else ``requested``
    (what their browser asked for), else settings.LANGUAGE_CODE."""
    worker = getattr(user, "worker", None) if user is not None and user.is_authenticated else None
    return supported(getattr(worker, "language", "")) or supported(requested) or settings.LANGUAGE_CODE


def scope_requested_language(scope: dict) -> str:
    """What a socket's browser asked for: the language cookie, then the
    Accept-Language header of the handshake; "" when neither is supported."""
    cookie = supported(scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME))
    if cookie:
        return cookie
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    for code, _quality in parse_accept_lang_header(accept):
        if supported(code):
            return supported(code)
    return ""


def language_name(code: str | None) -> str:
    """A language's name in its own words as settings.LANGUAGES spells it
    ("Tiếng Việt"), else Django's (a language since removed), else the code."""
    if not code:
        return ""
    named = dict(settings.LANGUAGES).get(code)
    if named:
        return named
    try:
        return get_language_info(code)["name_local"]
    except KeyError:
        return code
