"""What a browser sends on the consultation socket, parsed by DRF
serializers as the API's input is: a NUL byte in a chat message (which
PostgreSQL refuses to store) or an id beyond 64 bits is an error frame
naming the field, never a crashed consumer."""

from __future__ import annotations

from rest_framework import serializers

from healthhub.params import IdField


class StrictCharField(serializers.CharField):
    """A string and nothing else: DRF's CharField would turn the JSON
    number 42 into "42"."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MessageFrame(serializers.Serializer):
    # Emptiness and length are the service's to judge (its words, translated).
    body = StrictCharField(allow_blank=True, trim_whitespace=False)
    ref = StrictCharField(allow_blank=True, allow_null=True, required=False, default="", max_length=64)


class MarkFrame(serializers.Serializer):
    up_to = IdField(allow_null=True, required=False, default=None)
