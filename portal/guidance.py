"""Guidance pages written for workers: what an alert or a risk means and
what to do. Each page is tied to the alert kinds it explains, is served
without personal data (so the installed portal keeps it for offline use),
and is written through the translation catalogue, so a new language needs a
catalogue and nothing else."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

# The registry lives below consultations so that a recommendation can name a
# page; these names are re-exported for the portal's own use.
from alerts.guidance import BY_SLUG, GUIDES, Guide, guides_for_kinds

__all__ = ["BY_SLUG", "GUIDES", "Guide", "guide", "guide_list", "guides_for_kinds"]


@require_safe
def guide_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/guide/index.html", {"guides": GUIDES, "section": "guide"})


@require_safe
def guide(request: HttpRequest, slug: str) -> HttpResponse:
    found = BY_SLUG.get(slug)
    if found is None:
        raise Http404
    return render(request, f"portal/guide/{slug}.html", {"guide": found, "guides": GUIDES, "section": "guide"})
