"""healthhub.flags: cache.add for many keys, in one round trip on Redis."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from healthhub.flags import flags_raise

REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/14",
        "KEY_PREFIX": "flags-test",
    }
}


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_CACHE["default"]["LOCATION"], socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (.ci/run has one)")
    client.flushdb()
    return client


LOCMEM_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "flags-test"}}


@pytest.fixture(params=["locmem", "redis"])
def backend(request):
    if request.param == "locmem":  # (the suite's own cache is Redis when REDIS_URL is set)
        with override_settings(CACHES=LOCMEM_CACHE):
            cache.clear()
            yield None
        return
    client = _redis_or_skip()
    with override_settings(CACHES=REDIS_CACHE):
        yield client
    client.flushdb()


def test_says_which_flags_it_raised_and_keeps_order(backend):
    assert flags_raise(["b", "a"], 30) == [True, True]
    assert flags_raise(["c", "a", "b", "d"], 30) == [True, False, False, True]
    assert flags_raise([], 30) == []


def test_on_redis_all_flags_take_one_round_trip(backend, monkeypatch):
    if backend is None:
        pytest.skip("a Redis matter")
    calls = []
    real = redis.Redis.execute_command
    monkeypatch.setattr(redis.Redis, "execute_command", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    assert flags_raise([f"w{n}" for n in range(50)], 30) == [True] * 50
    assert calls == []  # no command on its own: the 50 SETs went in one pipeline
    assert backend.exists(*[f"flags-test:1:w{n}" for n in range(50)]) == 50


def test_flags_this_process_raised_cost_no_round_trip_until_they_expire(backend, monkeypatch):
    """A worker's batches arrive on one socket, so one process asks about
    each worker: while its own flag lives it answers without the cache, and
    it still asks about flags another process may have raised."""
    from healthhub import flags

    assert flags_raise(["mine"], 30) == [True]
    cache.add("theirs", 1, timeout=30)  # raised by another process
    asked = []
    real = flags._flags_set
    monkeypatch.setattr(flags, "_flags_set", lambda keys, seconds: asked.append(list(keys)) or real(keys, seconds))
    assert flags_raise(["mine", "theirs", "new"], 30) == [False, False, True]
    assert asked == [["theirs", "new"]]
    assert flags_raise(["mine", "new"], 30) == [False, False]
    assert asked == [["theirs", "new"]]  # both its own: nothing asked
    # Once expired (the clock moved on), it asks again.
    later = flags.time.monotonic() + 31
    monkeypatch.setattr(flags.time, "monotonic", lambda: later)
    cache.delete("mine")
    assert flags_raise(["mine"], 30) == [True]
    assert asked[-1] == ["mine"]


def test_a_flag_is_the_one_cache_add_sees(backend):
    """Same key prefix, version and value encoding as Django's cache."""
    assert flags_raise(["x"], 30) == [True]
    assert cache.add("x", 2) is False
    assert cache.get("x") == 1
    assert cache.add("y", 1, timeout=30) is True
    assert flags_raise(["y", "z"], 30) == [False, True]


def test_a_flag_lasts_the_seconds_given(backend):
    flags_raise(["short", "long"], 7)
    flags_raise(["long"], 500)  # not set again: it keeps its first life
    if backend is None:
        expiry = cache._expire_info
        lives = {k.rsplit(":", 1)[-1]: v for k, v in expiry.items()}
        assert round(lives["long"] - lives["short"]) == 0
        return
    ttls = {key.decode().rsplit(":", 1)[-1]: backend.ttl(key) for key in backend.keys("*")}
    assert ttls == {"short": 7, "long": 7}


def test_zero_seconds_is_no_gate(backend):
    assert flags_raise(["k", "k"], 0) == [True, True]
    assert flags_raise(["k"], 0) == [True]
    assert cache.get("k") is None
