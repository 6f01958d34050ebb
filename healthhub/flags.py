"""Short-lived flags in the cache, set for many keys at once.

``flags_raise(keys, seconds)`` is ``cache.add(key, 1, seconds)`` for each
key, and says which of them it set (those no one had set in the last
``seconds``; with 0 seconds there is no gate and every key passes): a
coalescing gate shared by every process when the cache is Redis. There it
costs one round trip for all the keys (a pipeline of ``SET key 1 NX EX
seconds``) instead of one per key, which on the ingestion path was a sixth
of a server process's time under load.

Each process also remembers the flags it raised itself until they expire,
and asks Redis only about the others: a worker's batches arrive on one
socket, so one process asks about each worker about once per ``seconds``
instead of once per group commit. (Should Redis lose a flag this process
raised, the process still takes it as set until it expires, as it would
have had Redis kept it.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


class _Raised:
    """The flags this process raised, with when each expires (monotonic)."""

    PRUNE_ABOVE = 100_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.until: dict[str, float] = {}

    def held(self, keys: Sequence[str], now: float) -> list[bool]:
        with self.lock:
            return [self.until.get(key, 0.0) > now for key in keys]

    def remember(self, keys: list[str], expires: float, now: float) -> None:
        with self.lock:
            if len(self.until) > self.PRUNE_ABOVE:
                self.until = {key: at for key, at in self.until.items() if at > now}
            for key in keys:
                self.until[key] = expires

    def forget(self) -> None:
        with self.lock:
            self.until.clear()


_raised = _Raised()


def flags_raise(keys: Sequence[str], seconds: int) -> list[bool]:
    """For each key, whether this call set its flag (it was not set)."""
    if not keys:
        return []
    if seconds <= 0:
        return [True] * len(keys)  # no gate (the tests' setting): every call passes
    now = time.monotonic()
    held = _raised.held(keys, now)
    ask = [key for key, mine in zip(keys, held, strict=True) if not mine]
    answers = iter(_flags_set(ask, seconds) if ask else [])
    raised = [False if mine else next(answers) for mine in held]
    _raised.remember([key for key, done in zip(keys, raised, strict=True) if done], now + seconds, now)
    return raised


def _flags_set(keys: list[str], seconds: int) -> list[bool]:
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
