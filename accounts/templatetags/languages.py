"""``{{ code|language_name }}``: a language's name in its own words."""

from __future__ import annotations

from django import template

from accounts import languages

register = template.Library()


@register.filter
def language_name(code: str | None) -> str:
    return languages.language_name(code)
