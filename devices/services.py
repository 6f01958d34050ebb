"""Writes about devices and readings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from devices.models import Device, DeviceStatus, Reading
from devices.protocol import Batch, FrameError, Limits, ValidReading, ack_message, parse_batch
from devices.signals import readings_stored
from devices.tokens import token_hash, token_new
from healthhub.live import device_group, group_send_now
from healthhub.metrics import BATCHES_STORED, READINGS_STORED
from workers.models import Worker, WorkerEventKind
from workers.services import worker_event_record

log = logging.getLogger(__name__)


class ProvisioningError(Exception):
    pass


def _notify_device(device_id: int, event_type: str) -> None:
    transaction.on_commit(partial(group_send_now, device_group(device_id), {"type": event_type}))


def _tell_worker(worker_id: int | None, kind: str, device: Device, by: AbstractBaseUser | None) -> None:
    # A wearable linked to someone receives their alerts and speaks in their
    # name: they hear of every change on their privacy page, and the
    # clinicians' worker page marks the readings of a newly linked one.
    if worker_id is not None:
        worker_event_record(worker_id=worker_id, kind=kind, detail=device.serial, by=by)


@transaction.atomic
def device_provision(
    *, serial: str, model: str = "", worker: Worker | None = None, by: AbstractBaseUser | None = None
) -> tuple[Device, str]:
    """Create a device and issue its token. The token is returned once and
    only its hash is kept. Linking it to a worker is told to the worker."""
    serial = serial.strip()
    if not serial:
        raise ProvisioningError("a serial number is required")
    # Checked here, not left to the database: SQLite would store a longer
    # value and PostgreSQL would fail with a DataError.
    for name, value in (("serial", serial), ("model", model)):
        max_length = Device._meta.get_field(name).max_length
        if len(value) > max_length:
            raise ProvisioningError(f"the {name} has at most {max_length} characters")
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
    _tell_worker(device.worker_id, WorkerEventKind.DEVICE_LINKED, device, by)
    return device, token


@transaction.atomic
def device_token_rotate(*, device: Device, by: AbstractBaseUser | None = None) -> str:
    """Issue a new token (reactivating a revoked device); the old token stops
    working at once and any open connection with it is closed. Whoever holds
    the new token speaks for the device's worker, who is told."""
    token = token_new()
    device.token_hash = token_hash(token)
    device.token_issued_at = timezone.now()
    device.status = DeviceStatus.ACTIVE
    device.save(update_fields=["token_hash", "token_issued_at", "status"])
    _notify_device(device.pk, "device.revoked")
    _tell_worker(device.worker_id, WorkerEventKind.DEVICE_NEW_TOKEN, device, by)
    return token


@transaction.atomic
def device_revoke(*, device: Device, by: AbstractBaseUser | None = None) -> None:
    """Revoke the device's token; an open connection is closed with 4401.
    The worker it is linked to is told."""
    device.status = DeviceStatus.REVOKED
    device.token_hash = None
    device.save(update_fields=["status", "token_hash"])
    _notify_device(device.pk, "device.revoked")
    _tell_worker(device.worker_id, WorkerEventKind.DEVICE_REVOKED, device, by)


@transaction.atomic
def device_assign(*, device: Device, worker: Worker | None, by: AbstractBaseUser | None = None) -> None:
    """Assign the device to a worker (or to nobody). An open connection is
    closed so that the device reconnects under its new assignment. The
    worker it leaves and the worker it goes to are told."""
    previous = Device.objects.filter(pk=device.pk).values_list("worker_id", flat=True).first()
    device.worker = worker
    device.save(update_fields=["worker"])
    _notify_device(device.pk, "device.reassigned")
    if previous != device.worker_id:
        _tell_worker(previous, WorkerEventKind.DEVICE_UNLINKED, device, by)
        _tell_worker(device.worker_id, WorkerEventKind.DEVICE_LINKED, device, by)


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
    batch = BatchToStore(device_id=device_id, worker_id=worker_id, readings=readings, touch=touch)
    return readings_store_many(batches=[batch], received_at=received_at)[0]


@dataclass(frozen=True)
class BatchToStore:
    device_id: int
    worker_id: int
    readings: list[ValidReading]
    touch: bool = True


def readings_store_many(*, batches: list[BatchToStore], received_at: datetime) -> list[StoreResult]:
    """Store several batches, from any devices, in one transaction.

    Each batch gets the result ``readings_store`` would give it if the
    batches were stored one after the other in this order (a reading in two
    of them is accepted in the first and a duplicate in the later one), for
    the price of one INSERT ... ON CONFLICT DO NOTHING and one commit for all
    of them. When this returns, every batch is committed; when it raises,
    none is.
    """
    postgresql = connection.vendor == "postgresql"
    # Each new reading is attributed to the first batch that has it, by the
    # key the database gives back for each row it inserted.
    owner: dict[tuple[int, str, object], int] = {}
    rows: list[tuple[int, int, str, float, datetime]] = []
    for index, batch in enumerate(batches):
        for reading in batch.readings:
            key = (batch.device_id, reading.metric, _time_key(reading.at, postgresql))
            if key not in owner:
                owner[key] = index
                rows.append((batch.device_id, batch.worker_id, reading.metric, reading.value, reading.at))
    accepted = [0] * len(batches)
    active = [True] * len(batches)
    ops = connection.ops
    received = ops.adapt_datetimefield_value(received_at)
    device_table = ops.quote_name(Device._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if rows:
            inserted = _insert_postgresql(rows, received_at) if postgresql else _insert_values(cursor, rows, received)
            for key in inserted:
                accepted[owner[key]] += 1
        for index, batch in enumerate(batches):
            if batch.touch:
                battery = next((r.value for r in reversed(batch.readings) if r.metric == "battery"), None)
                cursor.execute(
                    f"UPDATE {device_table} SET last_seen_at = %s, battery = COALESCE(%s, battery) "
                    "WHERE id = %s AND status = %s",
                    [received, battery, batch.device_id, DeviceStatus.ACTIVE.value],
                )
                active[index] = cursor.rowcount > 0
    READINGS_STORED.inc(sum(accepted))
    BATCHES_STORED.inc(len(batches))
    return [
        StoreResult(accepted=accepted[i], duplicates=len(batch.readings) - accepted[i], device_active=active[i])
        for i, batch in enumerate(batches)
    ]


_READING_COLUMNS = "device_id, worker_id, metric, value, measured_at, received_at"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# SQLite allows 32,766 parameters per statement; 6 per row.
_VALUES_ROWS_PER_STATEMENT = 1000


def _time_key(at: datetime, postgresql: bool) -> object:
    """``measured_at`` as the INSERT below gives it back for a new row."""
    if postgresql:
        return (at - _EPOCH) // _MICROSECOND
    return str(connection.ops.adapt_datetimefield_value(at))


def _insert_postgresql(rows: list[tuple], received_at: datetime) -> list[tuple]:
    """INSERT the rows, skipping those already stored; the keys of the rows
    inserted, with measured_at as integer microseconds since the epoch.

    One statement of fixed text whatever the number of rows: five arrays, not
    six parameters per row, so PostgreSQL parses the same short query for 25
    readings or 5,000. It goes through a psycopg cursor of its own for binary
    parameters (Django's binds on the client, quoting every array element in
    Python) and returns integers (parsing a timestamptz per row costs more
    than the INSERT); it runs in the transaction Django has open.
    """
    import psycopg

    table = connection.ops.quote_name(Reading._meta.db_table)
    devices, workers, metrics, values, ats = (list(column) for column in zip(*rows, strict=True))
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({_READING_COLUMNS}) SELECT d, w, m, v, a, %b "
            "FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::float8[], %b::timestamptz[]) "
            "AS u(d, w, m, v, a) ON CONFLICT DO NOTHING "
            "RETURNING device_id, metric, (extract(epoch FROM measured_at) * 1000000)::bigint",
            [received_at, devices, workers, metrics, values, ats],
        )
        return cursor.fetchall()


def _insert_values(cursor, rows: list[tuple], received: object) -> list[tuple]:
    """The same with plain VALUES lists (SQLite, the embedded default); the
    keys with measured_at as the text SQLite stores."""
    table = connection.ops.quote_name(Reading._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    inserted: list[tuple] = []
    for start in range(0, len(rows), _VALUES_ROWS_PER_STATEMENT):
        chunk = rows[start : start + _VALUES_ROWS_PER_STATEMENT]
        params: list[object] = []
        for device, worker, metric, value, at in chunk:
            params += [device, worker, metric, value, adapt(at), received]
        placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        cursor.execute(
            f"INSERT INTO {table} ({_READING_COLUMNS}) VALUES {placeholders} "
            "ON CONFLICT DO NOTHING RETURNING device_id, metric, measured_at",
            params,
        )
        # SQLite gives the stored text back parsed (naive UTC): back to text.
        inserted += [(device, metric, str(at)) for device, metric, at in cursor.fetchall()]
    return inserted


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
        evaluations_request(worker_ids={worker_id}, urgent_ids={worker_id} if has_event(batch.valid) else set())
    return ack, result.device_active


@dataclass(frozen=True)
class IncomingBatch:
    """A ``readings`` message from an authenticated device, not yet validated."""

    device_id: int
    worker_id: int
    message: dict
    touch: bool = True


@dataclass(frozen=True)
class BatchesReceived:
    # For each batch, in order: its (ack, device still active), or the
    # FrameError it raised (nothing of it stored), or the DatabaseError that
    # kept it from being stored.
    results: list[tuple[dict, bool] | FrameError | DatabaseError]
    # Workers with new readings, whose alerts need evaluating.
    workers_to_evaluate: set[int]
    # Those of them whose batches carried an SOS or a fall.
    urgent_workers: set[int] = field(default_factory=set)


def batches_receive(*, batches: list[IncomingBatch], limits: Limits) -> BatchesReceived:
    """``batch_receive`` for several batches at once, in one transaction,
    except for the evaluation requests, which are left to the caller
    (``evaluations_request``), so that it may send the acks first.

    The valid batches are committed together (``readings_store_many``);
    should that fail, each is retried on its own, so that one batch the
    database refuses does not sink the others. When this returns, every ack
    in the results is committed.
    """
    now = timezone.now()
    results: list = [None] * len(batches)
    parsed: list[tuple[int, IncomingBatch, Batch]] = []
    for index, incoming in enumerate(batches):
        try:
            parsed.append((index, incoming, parse_batch(incoming.message, now, limits)))
        except FrameError as exc:
            results[index] = exc
    to_store = [
        BatchToStore(device_id=b.device_id, worker_id=b.worker_id, readings=p.valid, touch=b.touch)
        for _, b, p in parsed
    ]
    stored: list[StoreResult | DatabaseError] = []
    try:
        stored += readings_store_many(batches=to_store, received_at=now)
    except DatabaseError as exc:
        if len(to_store) == 1:
            stored.append(exc)
        else:
            for batch in to_store:
                try:
                    stored += readings_store_many(batches=[batch], received_at=now)
                except DatabaseError as one_exc:
                    stored.append(one_exc)
    evaluate: set[int] = set()
    urgent: set[int] = set()
    for (index, incoming, batch), result in zip(parsed, stored, strict=True):
        if isinstance(result, DatabaseError):
            results[index] = result
            continue
        ack = ack_message(batch.seq, result.accepted, result.duplicates, batch.rejected)
        results[index] = (ack, result.device_active)
        if result.accepted:
            evaluate.add(incoming.worker_id)
            if has_event(batch.valid):
                urgent.add(incoming.worker_id)
    return BatchesReceived(results=results, workers_to_evaluate=evaluate, urgent_workers=urgent)


def has_event(readings: list[ValidReading]) -> bool:
    """Whether a batch carries an SOS or a fall, which are judged at once."""
    return any(r.metric in URGENT_METRICS for r in readings)


URGENT_METRICS = frozenset({"sos", "fall"})


def evaluations_request(*, worker_ids: set[int], urgent_ids: set[int] | frozenset[int] = frozenset()) -> None:
    """Ask for these workers' alerts to be re-evaluated; call it once their
    new readings are committed. Coalesced per worker by the alerts app.

    A failure is logged, not raised: the readings are stored and
    acknowledged, and a device must not re-send them because the alert
    queue was unreachable.
    """
    for _receiver, result in readings_stored.send_robust(
        sender=Reading, worker_ids=set(worker_ids), urgent_ids=set(urgent_ids)
    ):
        if isinstance(result, Exception):
            log.error("requesting evaluations for workers %s failed", sorted(worker_ids), exc_info=result)
