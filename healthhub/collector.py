"""The garbage collector's settings for long-running processes (the ASGI
servers and the Celery workers).

Under device load a server process holds tens of thousands of long-lived
objects (a consumer, its tasks and buffers per connection), and every frame
allocates a few hundred short-lived containers (a batch's readings are
dicts). With CPython's default thresholds (700, 10, 10) those allocations
start a collection every few frames, and each older-generation collection
walks every long-lived object again: profiled under the ingestion bench, a
fifth of a server process's Python time went to the collector.

So these processes freeze what exists once they have loaded
(the modules, settings, URL patterns: the collector never walks it again)
and collect the youngest generation after GC_GEN0 allocations instead of
700. Reference counting frees nearly all of a frame's garbage as it goes;
the collector is only for cycles, which are rare on these paths, so a larger
threshold costs little memory.
"""

from __future__ import annotations

import gc

from healthhub.env import env_int

DEFAULT_GEN0 = 50_000


def gc_tune() -> None:
    gen0 = env_int("GC_GEN0", DEFAULT_GEN0)
    if gen0 <= 0:
        return  # GC_GEN0=0 keeps CPython's defaults
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, gen2)
