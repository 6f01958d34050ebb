"""Query parameters parsed by DRF serializers, never by hand.

``str.isdigit()`` accepts superscript digits that ``int()`` then refuses, and
an id of twenty digits overflows SQLite's 64-bit integers: both were server
errors. A serializer names the field in its 400 instead; DRF's character
fields also refuse NUL bytes, which PostgreSQL cannot store or compare.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

# The largest primary key a database here can hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A primary key from a query string: a positive integer that fits the
    database's 64-bit keys."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


def query_params(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """``request``'s query string validated by ``serializer_class``; a
    ValidationError (400 naming each bad field) otherwise."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
