"""The registry of guidance pages written for workers: each page's slug,
title and the alert kinds it explains. It lives here, below consultations
and the portal, so that a clinician's recommendation can name a page
(consultations) and the portal can serve it (portal.guidance) without an
upward import. The pages themselves are portal templates."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


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


def guide_choices() -> list[tuple[str, Promise]]:
    """(slug, title) pairs for a form's select."""
    return [(guide.slug, guide.title) for guide in GUIDES]
