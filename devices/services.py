"""Writes about devices and readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts.services import evaluation_request
from devices.models import Device, DeviceStatus, Reading
from devices.protocol import Limits, ValidReading, ack_message, parse_batch
from devices.tokens import token_hash, token_new
from healthhub.live import device_group, group_send_now
from workers.models import Worker


class ProvisioningError(Exception):
    pass


def _notify_device(device_id: int, event_type: str) -> None:
    transaction.on_commit(partial(group_send_now, device_group(device_id), {"type": event_type}))


@transaction.atomic
def device_provision(*, serial: str, model: str = "", worker: Worker | None = None) -> tuple[Device, str]:
    """Create a device and issue its token. The token is returned once and
    only its hash is kept."""
    serial = serial.strip()
    if not serial:
        raise ProvisioningError("a serial number is required")
    # Checked here, not left to the database: SQLite would store a longer
    # value and PostgreSQL would fail with a DataError.
    for field, value in (("serial", serial), ("model", model)):
        max_length = Device._meta.get_field(field).max_length
        if len(value) > max_length:
            raise ProvisioningError(f"the {field} has at most {max_length} characters")
    duplicate = ProvisioningError(f"a device with serial {serial!r} already exists")
    if Device.objects.filter(serial=serial).exists():
        raise duplicate
    token = token_new()
    try:
        # A savepoint: two admins provisioning the same serial at once both
        # pass the check above, and the loser gets the same clear error.
        with transaction.atomic():
            device = Device.objects.create(
                serial=serial,
                model=model,
                worker=worker,
                token_hash=token_hash(token),
                token_issued_at=timezone.now(),
            )
    except IntegrityError:
        raise duplicate from None
    return device, token


@transaction.atomic
def device_token_rotate(*, device: Device) -> str:
    """Issue a new token (reactivating a revoked device); the old token stops
    working at once and any open connection with it is closed."""
    token = token_new()
    device.token_hash = token_hash(token)
    device.token_issued_at = timezone.now()
    device.status = DeviceStatus.ACTIVE
    device.save(update_fields=["token_hash", "token_issued_at", "status"])
    _notify_device(device.pk, "device.revoked")
    return token


@transaction.atomic
def device_revoke(*, device: Device) -> None:
    """Revoke the device's token; an open connection is closed with 4401."""
    device.status = DeviceStatus.REVOKED
    device.token_hash = None
    device.save(update_fields=["status", "token_hash"])
    _notify_device(device.pk, "device.revoked")


@transaction.atomic
def device_assign(*, device: Device, worker: Worker | None) -> None:
    """Assign the device to a worker (or to nobody). An open connection is
    closed so that the device reconnects under its new assignment."""
    device.worker = worker
    device.save(update_fields=["worker"])
    _notify_device(device.pk, "device.reassigned")


@dataclass(frozen=True)
class StoreResult:
    accepted: int
    duplicates: int
    device_active: bool


def readings_store(
    *,
    device_id: int,
    worker_id: int,
    readings: list[ValidReading],
    received_at: datetime,
    touch: bool = True,
) -> StoreResult:
    """Store a batch of valid readings durably and idempotently.

    One INSERT ... ON CONFLICT DO NOTHING for the whole batch (no per-reading
    queries): a reading whose (device, metric, time) is already stored, or
    that appears twice in the batch, counts as a duplicate and is stored once.
    With ``touch`` the device's last-seen time and battery are updated in the
    same transaction, which also tells whether the device is still active.
    When this returns, the readings are committed.
    """
    unique: dict[tuple[str, datetime], ValidReading] = {}
    for reading in readings:
        unique.setdefault((reading.metric, reading.at), reading)
    battery = next((r.value for r in reversed(readings) if r.metric == "battery"), None)

    ops = connection.ops
    table = connection.ops.quote_name(Reading._meta.db_table)
    device_table = connection.ops.quote_name(Device._meta.db_table)
    received = ops.adapt_datetimefield_value(received_at)
    accepted = 0
    active = True
    with transaction.atomic():
        with connection.cursor() as cursor:
            if unique:
                rows = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(unique))
                params: list[object] = []
                for r in unique.values():
                    params += [device_id, worker_id, r.metric, r.value, ops.adapt_datetimefield_value(r.at), received]
                cursor.execute(
                    f"INSERT INTO {table} (device_id, worker_id, metric, value, measured_at, received_at) "
                    f"VALUES {rows} ON CONFLICT DO NOTHING RETURNING 1",
                    params,
                )
                accepted = len(cursor.fetchall())
            if touch:
                cursor.execute(
                    f"UPDATE {device_table} SET last_seen_at = %s, battery = COALESCE(%s, battery) "
                    "WHERE id = %s AND status = %s",
                    [received, battery, device_id, DeviceStatus.ACTIVE.value],
                )
                active = cursor.rowcount > 0
    return StoreResult(accepted=accepted, duplicates=len(readings) - accepted, device_active=active)


def batch_receive(
    *, device_id: int, worker_id: int, message: dict, limits: Limits, touch: bool = True
) -> tuple[dict, bool]:
    """Validate a ``readings`` message, store what is valid, and return the
    ``ack`` to send (after commit) and whether the device is still active.
    Raises FrameError when the frame is not a batch; nothing is stored then."""
    now = timezone.now()
    batch = parse_batch(message, now, limits)
    result = readings_store(
        device_id=device_id,
        worker_id=worker_id,
        readings=batch.valid,
        received_at=now,
        touch=touch,
    )
    ack = ack_message(batch.seq, result.accepted, result.duplicates, batch.rejected)
    if result.accepted:
        # After the commit above; coalesced, and never waits for the evaluation.
        evaluation_request(worker_id=worker_id)
    return ack, result.device_active
