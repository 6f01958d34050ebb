"""Channel-layer group names and a synchronous sender for services.

Group names live here so that whoever sends and whoever listens agree.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def device_group(device_id: int) -> str:
    return f"device.{device_id}"


def group_send_now(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` from synchronous code (services, tasks)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def site_clinicians_group(site_id: int) -> str:
    """Dashboards of the clinicians of a site."""
    return f"site.{site_id}.clinicians"


def worker_group(worker_id: int) -> str:
    """The worker's own portal pages."""
    return f"worker.{worker_id}"
