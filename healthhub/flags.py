"""Short-lived flags in the cache, set for many keys at once.

``flags_raise(keys, seconds)`` is ``cache.add(key, 1, seconds)`` for each
key, and says which of them it set (those no one had set in the last
``seconds``; with 0 seconds there is no gate and every key passes): a
coalescing gate shared by every process when the cache is Redis. There it
costs one round trip for all the keys (a pipeline of ``SET key 1 NX EX
seconds``) instead of one per key, which on the ingestion path was a sixth
of a server process's time under load.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def flags_raise(keys: Sequence[str], seconds: int) -> list[bool]:
    """For each key, whether this call set its flag (it was not set)."""
    if not keys:
        return []
    if seconds <= 0:
        return [True] * len(keys)  # no gate (the tests' setting): every call passes
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return [cache.add(key, 1, timeout=seconds) for key in keys]
    # Django's RedisCache writes to its first server whatever the key; the
    # same client, key prefixing and value encoding as cache.add.
    client = cache._cache.get_client(write=True)
    value = cache._cache._serializer.dumps(1)
    pipeline = client.pipeline(transaction=False)
    for key in keys:
        pipeline.set(cache.make_and_validate_key(key), value, ex=seconds, nx=True)
    return [bool(done) for done in pipeline.execute()]
