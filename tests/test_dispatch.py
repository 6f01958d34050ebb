"""Task dispatch: in the embedded default tasks run off the caller's
thread and the beat schedule runs inside the server process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from celery import shared_task

from healthhub import dispatch

ran: list[tuple[str, int]] = []
done = threading.Event()


@shared_task
def record(value: int) -> None:
    ran.append((threading.current_thread().name, value))
    done.set()


def test_enqueue_runs_inline_when_background_is_off(settings):
    settings.EMBEDDED_TASKS_IN_BACKGROUND = False
    ran.clear()
    dispatch.enqueue(record, 1)
    assert ran == [(threading.current_thread().name, 1)]


def test_enqueue_runs_on_a_background_thread_in_the_embedded_default(settings):
    settings.EMBEDDED_TASKS_IN_BACKGROUND = True
    ran.clear()
    done.clear()
    dispatch.enqueue(record, 2)
    assert done.wait(5)
    assert ran[0][1] == 2 and ran[0][0].startswith("embedded-task")


def test_embedded_beat_starts_in_a_fresh_server_process():
    # A web process has not imported the task modules yet: the beat must
    # still find every task of the schedule.
    code = (
        "import django; django.setup()\n"
        "from healthhub.dispatch import start_embedded_beat\n"
        "print('alive', start_embedded_beat().is_alive())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "healthhub.settings"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "alive True" in out.stdout


def test_a_group_send_from_sync_code_on_an_event_loops_thread_is_delivered():
    """A signal receiver that runs on a thread with a running event loop (a
    test driving a browser builds users there) still sends its event."""
    import asyncio

    from channels.layers import get_channel_layer

    from healthhub.live import group_send_now

    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("loop-thread-test", channel)
        group_send_now("loop-thread-test", {"type": "probe", "n": 1})
        return await asyncio.wait_for(layer.receive(channel), 2)

    received = asyncio.run(scenario())
    assert 0 <= time.time() - received.pop("sent_at") < 5  # stamped when sent (healthhub.live.SENT_AT)
    assert received == {"type": "probe", "n": 1}
