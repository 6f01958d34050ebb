"""``{{ code|language_name }}``: a language's name in its own words."""

from __future__ import annotations

from django import template
from django.conf import settings

from accounts import languages

register = template.Library()


@register.filter
def language_name(code: str | None) -> str:
    return languages.language_name(code)


@register.simple_tag
def language_choices() -> list[tuple[str, str]]:
    """settings.LANGUAGES as they stand, each name in its own language: a
    reader looks for their language in its own words, not translated into
    the page's ("Tiếng Việt", never "베트남어")."""
    return list(settings.LANGUAGES)
