"""Guidance pages written for workers: what an alert or a risk means and
what to do. Each page is tied to the alert kinds it explains, is served
without personal data (so the installed portal keeps it for offline use),
and is written through the translation catalogue, so a new language needs a
catalogue and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe


@dataclass(frozen=True)
class Guide:
    slug: str
    title: Promise
    kinds: frozenset[str]  # the alert kinds it explains


GUIDES = [
    Guide("heat", _("Heat illness: signs, first aid and rest"), frozenset({"heat_strain", "rest_overdue"})),
    Guide("low-oxygen", _("What a low blood oxygen reading means"), frozenset({"hypoxemia", "early_warning"})),
    Guide("fever", _("Fever: staying home and coming back to work"), frozenset({"fever", "possible_illness"})),
    Guide("outbreak", _("When an illness is going round: hands and masks"), frozenset()),
    Guide("fall", _("After a fall or an SOS"), frozenset({"fall", "sos"})),
    Guide(
        "wearable",
        _("Wearing your band so that its readings are right"),
        frozenset({"off_body", "signal_lost", "low_battery", "no_heart_rate"}),
    ),
]
BY_SLUG = {guide.slug: guide for guide in GUIDES}


def guides_for_kinds(kinds: set[str]) -> list[Guide]:
    """The guides that explain any of these alert kinds, in the list's order."""
    return [guide for guide in GUIDES if guide.kinds & kinds]


@require_safe
def guide_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/guide/index.html", {"guides": GUIDES, "section": "guide"})


@require_safe
def guide(request: HttpRequest, slug: str) -> HttpResponse:
    found = BY_SLUG.get(slug)
    if found is None:
        raise Http404
    return render(request, f"portal/guide/{slug}.html", {"guide": found, "guides": GUIDES, "section": "guide"})
