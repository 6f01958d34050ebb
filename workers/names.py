"""People's names as their users write them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser


def _is_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def person_name(user: AbstractBaseUser) -> str:
    """The user's name for display: Korean names family name first and
    unspaced (이서연), others given name first (Seoyeon Lee); the username
    when no name is recorded. Django's get_full_name gives "서연 이"."""
    first, last = user.first_name.strip(), user.last_name.strip()
    if _is_hangul(first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part) or user.get_username()
