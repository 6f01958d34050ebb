"""Cache-Control for what Django answers: nothing a page or the API returns
is stored by a browser or a shared cache, because nearly all of it is
someone's health data (vitals, alerts, consultations) or leads to it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """``Cache-Control: no-store`` (with Django's never-cache headers) on
    every response, unless the view set its own Cache-Control (the portal's
    manifest and service worker, which carry no personal data). Static files
    never get here: WhiteNoise answers them before this middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
