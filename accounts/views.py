"""Sign-in pages of our own (allauth does the rest)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from workers.services import UnknownLanguage, worker_language_set


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


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch (the cookie), and for a worker also their
    remembered language, so that the choice follows them to any phone."""
    response = django_set_language(request)
    worker = getattr(request.user, "worker", None) if request.user.is_authenticated else None
    if worker is not None:
        try:
            worker_language_set(worker=worker, language=request.POST.get("language", ""))
        except UnknownLanguage:
            pass  # Django's view has ignored it too: the page stays as it was
    return response


# -- browser sockets ------------------------------------------------------------------
