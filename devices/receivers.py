"""How devices react to the people layer. Connected in DevicesConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from devices.models import Device
from healthhub.live import device_group, group_send_now
from workers.signals import consent_withdrawn


@receiver(consent_withdrawn, dispatch_uid="devices.close_on_consent_withdrawn")
def close_device_sockets(sender: Any, *, worker_id: int, **kwargs: Any) -> None:
    """Each of the worker's device connections closes with 4403."""
    for device_id in Device.objects.filter(worker_id=worker_id).values_list("pk", flat=True):
        group_send_now(device_group(device_id), {"type": "device.consent_withdrawn"})
