"""Channel-layer group names and a synchronous sender for services.

Group names live here so that whoever sends and whoever listens agree.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from healthhub.metrics import PUSH_FAILURES


def device_group(device_id: int) -> str:
    return f"device.{device_id}"


def _in_event_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# The wall-clock time an event was sent, stamped on it: sockets that share
# a re-check before pushing it share only one that started after this.
SENT_AT = "sent_at"


def group_send_now(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` from synchronous code (services, tasks),
    stamped with the time it was sent (``SENT_AT``)."""
    event = {**event, SENT_AT: time.time()}
    layer = get_channel_layer()
    if layer is not None:
        try:
            if _in_event_loop_thread():
                # Synchronous code running on an event loop's thread (a
                # signal receiver fired from a test that drives a browser):
                # async_to_sync refuses to block that loop, so the send runs
                # on a thread of its own and is waited for.
                with ThreadPoolExecutor(max_workers=1) as pool:
                    pool.submit(async_to_sync(layer.group_send), group, event).result()
            else:
                async_to_sync(layer.group_send)(group, event)
        except Exception:
            PUSH_FAILURES.labels(channel="channel_layer").inc()
            raise


def site_clinicians_group(site_id: int) -> str:
    """Dashboards of the clinicians of a site."""
    return f"site.{site_id}.clinicians"


def worker_group(worker_id: int) -> str:
    """The worker's own portal pages."""
    return f"worker.{worker_id}"


def consultation_group(consultation_id: int) -> str:
    """Everyone in a consultation: the worker and the clinicians of the site
    (chat messages, read marks, recommendations, status)."""
    return f"consultation.{consultation_id}"


def consultation_clinicians_group(consultation_id: int) -> str:
    """The clinicians' side of a consultation: clinician-only notes, and the
    worker's call signalling. A worker's connection never joins it."""
    return f"consultation.{consultation_id}.clinicians"


def consultation_worker_group(consultation_id: int) -> str:
    """The worker's side of a consultation: the clinicians' call signalling."""
    return f"consultation.{consultation_id}.worker"


def site_consultations_group(site_id: int) -> str:
    """Consultation lists of the clinicians of a site (new requests, status)."""
    return f"site.{site_id}.consultations"


def worker_consultations_group(worker_id: int) -> str:
    """The worker's own consultation list."""
    return f"worker.{worker_id}.consultations"


def user_sockets_group(user_id: int) -> str:
    """Every browser socket of one user, whatever it streams: sign-out, a
    password or second-factor change, deactivation and a change of role or
    sites close them through it (accounts.sockets)."""
    return f"user.{user_id}.sockets"


# The event that closes a user's sockets. With ``session`` (a fingerprint of
# one session key, never the key itself) only the sockets opened by that
# session close: signing out in one browser leaves another signed in.
SOCKETS_CLOSE = "sockets.close"


def user_sockets_close_on_commit(user_id: int, *, reason: str, session: str | None = None) -> None:
    """Close ``user_id``'s browser sockets once the current transaction
    commits (at once outside one), so that a socket never re-checks a change
    that is not visible yet."""
    event: dict[str, Any] = {"type": SOCKETS_CLOSE, "reason": reason}
    if session is not None:
        event["session"] = session
    transaction.on_commit(lambda: group_send_now(user_sockets_group(user_id), event))
