"""healthhub.collector: server and worker processes collect garbage rarely
and never walk what they loaded at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import gc, healthhub.asgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 10000)"


def _asgi_process(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "GC_GEN0")}
    environ.update(DJANGO_SETTINGS_MODULE="healthhub.settings", HEALTHHUB_DEMO="true", **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize(("env", "expected"), [({}, ["50000", "True"]), ({"GC_GEN0": "2000"}, ["2000", "True"])])
def test_the_asgi_application_freezes_what_it_loaded_and_collects_rarely(env, expected):
    assert _asgi_process(**env) == expected


def test_gc_gen0_zero_keeps_cpythons_defaults():
    assert _asgi_process(GC_GEN0="0") == ["700", "False"]


def test_celery_processes_are_tuned_as_they_start():
    from celery.signals import worker_process_init, worker_ready

    import healthhub.celery as module

    assert module._pool_process_started in [r() for _, r in worker_process_init.receivers]
    assert module._worker_started in [r() for _, r in worker_ready.receivers]
