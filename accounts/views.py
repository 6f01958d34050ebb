"""Sign-in pages of our own (allauth does the rest)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse


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
