"""Writes about devices and readings."""

from __future__ import annotations

import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import BigIntegerField, Case, DateTimeField, F, Q, QuerySet, Value, When
from django.utils import timezone

from devices.models import Device, DeviceStatus, EvaluationDue, LateHour, Reading
from devices.partitions import HOUR, late_readings_before
from devices.protocol import Batch, FrameError, Limits, ValidReading, ack_message, parse_batch
from devices.signals import readings_stored, zone_reported
from devices.sql import floor_sql, in_list, run_prepared
from devices.tokens import token_hash, token_new
from devices.windows import Row, buckets_add, buckets_add_sql
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
    of them. With the readings, in the same transaction: the risk engine's
    window buckets (devices.windows), the marks of late hours
    (devices.partitions), the devices' last-seen time and battery, and the
    evaluation outbox. When this returns, every batch is committed; when it
    raises, none is.
    """
    # Each new reading is attributed to the first batch that has it; the
    # rows of batch i are rows[ends[i - 1]:ends[i]].
    seen: set[tuple[int, str, datetime]] = set()
    rows: list[Row] = []
    ends: list[int] = []
    for batch in batches:
        device_id, worker_id = batch.device_id, batch.worker_id
        for reading in batch.readings:
            key = (device_id, reading.metric, reading.at)
            if key not in seen:
                seen.add(key)
                rows.append((device_id, worker_id, reading.metric, reading.value, reading.at))
        ends.append(len(rows))
    touched = _touched(batches)
    store = _store_postgresql if connection.vendor == "postgresql" else _store_values
    inserted, active = store(rows, touched, received_at)
    if inserted is None:  # every row (no duplicate: the rule)
        accepted = [end - start for start, end in zip([0, *ends], ends, strict=False)]
    else:
        accepted = [0] * len(batches)
        for row in inserted:
            accepted[bisect_right(ends, row)] += 1
    READINGS_STORED.inc(sum(accepted))
    BATCHES_STORED.inc(len(batches))
    return [
        StoreResult(
            accepted=accepted[i],
            duplicates=len(batch.readings) - accepted[i],
            device_active=not batch.touch or batch.device_id in active,
        )
        for i, batch in enumerate(batches)
    ]


_READING_COLUMNS = "device_id, worker_id, metric, value, measured_at, received_at"


def _touched(batches: list[BatchToStore]) -> dict[int, float | None]:
    """The devices of the batches that ask to be marked as seen, with their
    latest battery reading in the group, if any."""
    touched: dict[int, float | None] = {}
    for batch in batches:
        if batch.touch:
            battery = next((r.value for r in reversed(batch.readings) if r.metric == "battery"), None)
            if battery is not None or batch.device_id not in touched:
                touched[batch.device_id] = battery
    return touched


def _outbox_upsert() -> str:
    """The evaluation outbox's ON CONFLICT clause: a worker with new readings
    needs evaluating (``excluded.urgent_since`` set: an SOS or a fall among
    them). Rows are written in worker order: two group commits that share
    workers lock their rows in the same order and never deadlock."""
    table = connection.ops.quote_name(EvaluationDue._meta.db_table)
    return (
        f"ON CONFLICT (worker_id) DO UPDATE SET "
        f"version = {table}.version + 1, "
        f"pending_since = COALESCE({table}.pending_since, excluded.pending_since), "
        f"urgent_version = CASE WHEN excluded.urgent_since IS NULL THEN {table}.urgent_version "
        f"ELSE {table}.version + 1 END, "
        f"urgent_since = COALESCE({table}.urgent_since, excluded.urgent_since) "
        # Nothing to write when the worker is already waiting for an
        # evaluation nobody holds (the one that claims it will read these
        # readings, committed before its claim) and nothing urgent is new:
        # one row version per evaluation instead of one per group commit.
        f"WHERE {table}.pending_since IS NULL OR {table}.claim IS NOT NULL "
        f"OR (excluded.urgent_since IS NOT NULL AND {table}.urgent_since IS NULL)"
    )


_OUTBOX_COLUMNS = "(worker_id, version, pending_since, urgent_version, urgent_since)"


def _store_postgresql(
    rows: list[Row], touched: dict[int, float | None], received_at: datetime
) -> tuple[list[int] | None, set[int]]:
    """Everything a group commit writes, as one statement: the readings
    INSERT ... ON CONFLICT DO NOTHING and, in CTEs over the rows it
    inserted, the window buckets, the late hours' marks and the outbox, and
    the devices' UPDATE. Outside a transaction it is its own (no BEGIN and
    COMMIT round trips: one round trip for the whole group), inside one a
    savepoint.

    The statement's text is fixed whatever the group's size (columns as
    arrays, ``unnest``), so PostgreSQL parses one query, and it goes through
    a psycopg cursor of its own for binary parameters (devices.sql). Returns
    which rows were inserted (None: all of them, the rule, in which case no
    key comes back) and the devices still active."""
    q = connection.ops.quote_name
    readings, late, devices = q(Reading._meta.db_table), q(LateHour._meta.db_table), q(Device._meta.db_table)
    outbox = q(EvaluationDue._meta.db_table)
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * 5
    device_ids = sorted(touched)
    statement = (
        f"WITH ins AS (INSERT INTO {readings} ({_READING_COLUMNS}) SELECT d, w, m, v, a, %(received)b "
        "FROM unnest(%(d)b::bigint[], %(w)b::bigint[], %(m)b::text[], %(v)b::float8[], %(a)b::timestamptz[]) "
        "AS u(d, w, m, v, a) ON CONFLICT DO NOTHING "
        "RETURNING device_id, worker_id, metric, value, measured_at), "
        f"buckets AS ({buckets_add_sql('ins')}), "
        # Readings measured before late_before came after their hour's
        # summaries were written: the hour is rolled up again.
        f"late AS (INSERT INTO {late} (worker_id, hour) SELECT DISTINCT worker_id, {floor_sql('measured_at', HOUR)} "
        "FROM ins WHERE measured_at < %(late_before)b ORDER BY 1, 2 ON CONFLICT DO NOTHING), "
        f"touched AS (UPDATE {devices} SET last_seen_at = %(received)b, battery = COALESCE(t.b, {devices}.battery) "
        f"FROM unnest(%(devices)b::bigint[], %(batteries)b::float8[]) AS t(d, b) "
        f"WHERE {devices}.id = t.d AND status = %(active)b RETURNING {devices}.id), "
        f"due AS (INSERT INTO {outbox} {_OUTBOX_COLUMNS} "
        "SELECT w, 1, %(received)b, CASE WHEN u THEN 1 END, CASE WHEN u THEN %(received)b::timestamptz END "
        f"FROM (SELECT worker_id, bool_or(metric IN ({in_list(URGENT_METRICS)})) FROM ins GROUP BY worker_id) "
        f"AS d(w, u) ORDER BY w {_outbox_upsert()}) "
        "SELECT 'n', count(*), NULL::text, NULL::bigint FROM ins "
        "UNION ALL SELECT 'a', id, NULL, NULL FROM touched "
        # The keys of the rows inserted, only when some were not.
        "UNION ALL SELECT 'k', device_id, metric, (extract(epoch FROM measured_at) * 1000000)::bigint "
        "FROM ins WHERE (SELECT count(*) FROM ins) < %(rows)b"
    )
    params = {
        "received": received_at,
        "d": columns[0],
        "w": columns[1],
        "m": columns[2],
        "v": columns[3],
        "a": columns[4],
        "late_before": late_readings_before(received_at),
        "devices": device_ids,
        "batteries": [touched[d] for d in device_ids],
        "active": DeviceStatus.ACTIVE.value,
        "rows": len(rows),
    }
    # Prepared once per connection, so PostgreSQL does not parse and plan
    # five CTEs at every group commit; a partition created or dropped since
    # makes it plan again on its own. In a caller's transaction, a savepoint:
    # should it fail, the batch-by-batch retry runs in that transaction.
    results = run_prepared(statement, params)
    active = {value for kind, value, _, _ in results if kind == "a"}
    count = next(value for kind, value, _, _ in results if kind == "n")
    if count == len(rows):
        return None, active
    keys = [(device, metric, at) for kind, device, metric, at in results if kind == "k"]
    return _inserted_rows(rows, keys, postgresql=True), active


def _store_values(
    rows: list[Row], touched: dict[int, float | None], received_at: datetime
) -> tuple[list[int] | None, set[int]]:
    """The same with plain statements in a transaction (SQLite, the
    embedded default, which keeps no summaries and so no late hours)."""
    with transaction.atomic(), connection.cursor() as cursor:
        inserted: list[int] = []
        due: dict[int, bool] = {}  # workers with new readings: an SOS or a fall among them?
        if rows:
            inserted = _inserted_rows(rows, _insert_values(rows, received_at), postgresql=False)
            for row in inserted:
                _, worker_id, metric, _, _ = rows[row]
                due[worker_id] = due.get(worker_id, False) or metric in URGENT_METRICS
            buckets_add([rows[row] for row in inserted])
        active = _devices_touch(cursor, touched, received_at)
        if due:
            _record_due(cursor, due, received_at)
    return inserted, active


def _record_due(cursor, due: dict[int, bool], received_at: datetime) -> None:
    """Record, in the transaction that stores the readings, that these
    workers need evaluating (``due`` says which had an SOS or a fall)."""
    table = connection.ops.quote_name(EvaluationDue._meta.db_table)
    received = connection.ops.adapt_datetimefield_value(received_at)
    params: list[object] = []
    for worker_id in sorted(due):
        urgent = due[worker_id]
        params += [worker_id, received, 1 if urgent else None, received if urgent else None]
    placeholders = ", ".join(["(%s, 1, %s, %s, %s)"] * len(due))
    cursor.execute(f"INSERT INTO {table} {_OUTBOX_COLUMNS} VALUES {placeholders} {_outbox_upsert()}", params)


def _devices_touch(cursor, touched: dict[int, float | None], received_at: datetime) -> set[int]:
    """Mark these devices as seen now, with their battery level if they sent
    one; the ones still active."""
    table = connection.ops.quote_name(Device._meta.db_table)
    received = connection.ops.adapt_datetimefield_value(received_at)
    active = set()
    for device_id in sorted(touched):
        cursor.execute(
            f"UPDATE {table} SET last_seen_at = %s, battery = COALESCE(%s, battery) WHERE id = %s AND status = %s",
            [received, touched[device_id], device_id, DeviceStatus.ACTIVE.value],
        )
        if cursor.rowcount > 0:
            active.add(device_id)
    return active


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# SQLite allows 32,766 parameters per statement; 6 per row.
_VALUES_ROWS_PER_STATEMENT = 1000


def _inserted_rows(rows: list[Row], keys: list[tuple], postgresql: bool) -> list[int]:
    """Which of ``rows`` (distinct) the INSERT stored, from the keys it gave
    back: all of them, as a rule (no duplicate), else looked up by key."""
    if len(keys) == len(rows):
        return list(range(len(rows)))
    where = {(device, metric, _time_key(at, postgresql)): n for n, (device, _, metric, _, at) in enumerate(rows)}
    return sorted(where[key] for key in keys)


def _time_key(at: datetime, postgresql: bool) -> object:
    """``measured_at`` as the INSERT gives it back for a new row: integer
    microseconds since the epoch from PostgreSQL, the stored text from SQLite."""
    if postgresql:
        return (at - _EPOCH) // _MICROSECOND
    return str(connection.ops.adapt_datetimefield_value(at))


def _insert_values(rows: list[Row], received_at: datetime) -> list[tuple]:
    """The same with plain VALUES lists (SQLite, the embedded default); the
    keys with measured_at as the text SQLite stores."""
    table = connection.ops.quote_name(Reading._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    inserted: list[tuple] = []
    with connection.cursor() as cursor:
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
    zone_report(worker_id=worker_id, batch=batch, at=now)
    evaluate, urgent = _to_evaluate([(worker_id, batch, result)])
    if evaluate:
        # After the commit above; coalesced, and never waits for the evaluation.
        evaluations_request(worker_ids=evaluate, urgent_ids=urgent)
    return ack, result.device_active


def _to_evaluate(stored: list[tuple[int, Batch, StoreResult]]) -> tuple[set[int], set[int]]:
    """The workers whose evaluation to request after these batches were
    stored, and those of them with an SOS or a fall. A batch of duplicates
    only asks again if the worker's readings are still unevaluated: it is a
    device re-sending a batch whose first ack it never got, perhaps because
    the server failed after storing it and before asking for its evaluation."""
    evaluate: set[int] = set()
    urgent: set[int] = set()
    resent: dict[int, bool] = {}
    for worker_id, batch, result in stored:
        if result.accepted:
            evaluate.add(worker_id)
            if has_event(batch.valid):
                urgent.add(worker_id)
        elif result.duplicates:
            resent[worker_id] = resent.get(worker_id, False) or has_event(batch.valid)
    resent = {w: u for w, u in resent.items() if w not in evaluate}
    if resent:
        try:
            pending, pending_urgent = evaluations_pending(worker_ids=set(resent))
        except DatabaseError:
            # The batches are committed and their acks stand; what they need
            # is in the outbox, which the sweeper reads.
            log.warning("could not tell whether re-sent batches still need evaluating", exc_info=True)
            return evaluate, urgent
        evaluate |= pending
        urgent |= {w for w in pending_urgent if resent[w]}
    return evaluate, urgent


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
        _reconnect_if_broken()
        if len(to_store) == 1:
            stored.append(exc)
        else:
            for batch in to_store:
                try:
                    stored += readings_store_many(batches=[batch], received_at=now)
                except DatabaseError as one_exc:
                    stored.append(one_exc)
    committed: list[tuple[int, Batch, StoreResult]] = []
    for (index, incoming, batch), result in zip(parsed, stored, strict=True):
        if isinstance(result, DatabaseError):
            results[index] = result
            continue
        ack = ack_message(batch.seq, result.accepted, result.duplicates, batch.rejected)
        results[index] = (ack, result.device_active)
        zone_report(worker_id=incoming.worker_id, batch=batch, at=now)
        committed.append((incoming.worker_id, batch, result))
    evaluate, urgent = _to_evaluate(committed)
    return BatchesReceived(results=results, workers_to_evaluate=evaluate, urgent_workers=urgent)


def _reconnect_if_broken() -> None:
    """After a failed commit: a connection the database dropped (a restart)
    is closed, so that what runs next takes a fresh one."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def zone_report(*, worker_id: int, batch: Batch, at: datetime) -> None:
    """Tell the layers above where the wearer is, when the batch said so
    (before the evaluation is requested, so an SOS alert knows the zone)."""
    if batch.zone is None:
        return
    for _receiver, result in zone_reported.send_robust(sender=Device, worker_id=worker_id, zone=batch.zone, at=at):
        if isinstance(result, Exception):
            log.error("recording the zone of worker %s failed", worker_id, exc_info=result)


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


# --- The evaluation outbox (devices.models.EvaluationDue) ---------------------
# Written with the readings (readings_store_many); claimed, cleared and swept
# by the alerts app, which decides what an evaluation is.


def _lock(rows: QuerySet[EvaluationDue]) -> QuerySet[EvaluationDue]:
    """Lock these outbox rows in worker order, in the caller's transaction,
    and return them for an UPDATE. Ingestion writes the outbox in worker
    order; an UPDATE of many rows locks them in the order it finds them,
    and two statements that lock the same rows in different orders can
    deadlock (PostgreSQL then aborts one after deadlock_timeout, a second:
    a group commit retried batch by batch, acks seconds late). A row
    changed while this waited for it is checked against ``rows``' filter
    again (PostgreSQL re-reads a row a FOR UPDATE waited for)."""
    locked = rows.order_by("worker_id").select_for_update().values_list("worker_id", flat=True)
    return EvaluationDue.objects.filter(worker_id__in=list(locked))


@dataclass(frozen=True)
class EvaluationClaim:
    """A worker whose unevaluated readings this evaluation has taken on."""

    worker_id: int
    version: int  # the row's version when claimed: readings up to it are covered
    pending_since: datetime | None  # receipt of the oldest batch covered
    urgent: bool  # an SOS or a fall among them


def evaluations_claim(
    *,
    worker_ids: list[int] | set[int],
    token: str,
    now: datetime,
    lease: timedelta,
    urgent_only: bool = False,
    scheduled: str | None = None,
) -> list[EvaluationClaim]:
    """Claim the workers of ``worker_ids`` that have unevaluated readings and
    that nobody else holds (or whose holder's lease has run out), with a
    conditional UPDATE: of two tasks for the same worker (a duplicate, a
    redelivery, the sweeper's and the fast path's) one gets it and the other
    gets nothing. ``scheduled`` is the sweeper's token the task carries: the
    rows the sweeper reserved for it are its to take."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    if scheduled:
        free |= Q(claim=scheduled)
    rows = EvaluationDue.objects.filter(worker_id__in=worker_ids, pending_since__isnull=False).filter(free)
    if urgent_only:
        rows = rows.filter(urgent_since__isnull=False)
    with transaction.atomic():
        if _lock(rows).update(claim=token, claimed_until=now + lease) == 0:
            return []
        claimed = EvaluationDue.objects.filter(worker_id__in=worker_ids, claim=token).order_by("worker_id")
        return [
            EvaluationClaim(worker_id=w, version=v, pending_since=p, urgent=u is not None)
            for w, v, p, u in claimed.values_list("worker_id", "version", "pending_since", "urgent_since")
        ]


def evaluations_release(
    *, claims: list[EvaluationClaim], token: str, claimed_at: datetime, now: datetime, done: bool = True
) -> set[int]:
    """Give the claims back. ``done``: what each claim covered is evaluated,
    so its pending marks are cleared, unless more readings were stored after
    the claim (the version moved on), which stay pending from ``claimed_at``.
    Not ``done`` (the evaluation failed): everything stays pending for the
    next try. Returns the workers released that still have an SOS or a fall
    pending (stored during the evaluation)."""
    if not claims:
        return set()
    if not done:
        with transaction.atomic():
            _lock(EvaluationDue.objects.filter(worker_id__in=[c.worker_id for c in claims], claim=token)).update(
                claim=None, claimed_until=None
            )
        return set()
    if connection.vendor == "postgresql":
        return _release_postgresql(claims, token, claimed_at, now)
    moment = Value(claimed_at, output_field=DateTimeField())
    nothing = Value(None, output_field=DateTimeField())
    # One UPDATE for all the claims (their rows are locked for the length of
    # this transaction, and ingestion's group commits wait on them): each
    # row compared with the version its own claim covered.
    covered = [When(worker_id=c.worker_id, version=c.version, then=nothing) for c in claims]
    newer_urgent = [When(worker_id=c.worker_id, urgent_version__gt=c.version, then=moment) for c in claims]
    keep_urgent = [When(worker_id=c.worker_id, urgent_version__gt=c.version, then=F("urgent_version")) for c in claims]
    workers = [c.worker_id for c in claims]
    with transaction.atomic():
        mine = _lock(EvaluationDue.objects.filter(worker_id__in=workers, claim=token))
        mine.update(
            claim=None,
            claimed_until=None,
            evaluated_at=now,
            pending_since=Case(*covered, default=moment),
            urgent_since=Case(*newer_urgent, default=nothing),
            urgent_version=Case(*keep_urgent, default=Value(None, output_field=BigIntegerField())),
        )
        return set(mine.filter(urgent_since__isnull=False).values_list("worker_id", flat=True))


def _release_postgresql(claims: list[EvaluationClaim], token: str, claimed_at: datetime, now: datetime) -> set[int]:
    """``evaluations_release`` of work done, as one statement of fixed text
    (its own transaction, or a savepoint inside a caller's): the claims'
    workers and versions go as two arrays, each row is compared with its
    own claim's version in a join, and the rows are locked in worker order
    first, as ``_lock`` does. The
    ORM's form, a CASE of one WHEN per claim, cost a Celery process more
    than the evaluation itself for a hundred workers (built, compiled, then
    each row tested against every WHEN)."""
    outbox = connection.ops.quote_name(EvaluationDue._meta.db_table)
    statement = (
        "WITH c(w, v) AS (SELECT * FROM unnest(%(w)b::bigint[], %(v)b::bigint[])), "
        f"locked AS (SELECT worker_id FROM {outbox} WHERE worker_id = ANY(%(w)b) AND claim = %(token)b "
        "ORDER BY worker_id FOR UPDATE), "
        f"released AS (UPDATE {outbox} AS o SET claim = NULL, claimed_until = NULL, evaluated_at = %(now)b, "
        "pending_since = CASE WHEN o.version = c.v THEN NULL ELSE %(moment)b::timestamptz END, "
        "urgent_since = CASE WHEN o.urgent_version > c.v THEN %(moment)b::timestamptz END, "
        "urgent_version = CASE WHEN o.urgent_version > c.v THEN o.urgent_version END "
        "FROM c WHERE o.worker_id = c.w AND o.worker_id IN (SELECT worker_id FROM locked) "
        "RETURNING o.worker_id, o.urgent_since) "
        "SELECT worker_id FROM released WHERE urgent_since IS NOT NULL"
    )
    params = {
        "w": [c.worker_id for c in claims],
        "v": [c.version for c in claims],
        "token": token,
        "now": now,
        "moment": claimed_at,
    }
    return {worker_id for (worker_id,) in run_prepared(statement, params)}


@dataclass(frozen=True)
class Overdue:
    token: str
    urgent: list[int]
    routine: list[int]


def evaluations_schedule(
    *,
    now: datetime,
    token: str,
    urgent_after: timedelta,
    routine_after: timedelta,
    routine_every: timedelta,
    urgent_lease: timedelta,
    routine_lease: timedelta,
    limit: int = 5000,
) -> Overdue:
    """Reserve (with ``token``) the workers whose readings have waited too
    long for an evaluation nobody holds: an SOS or a fall stored more than
    ``urgent_after`` ago, other readings more than ``routine_after`` ago
    (and not evaluated within ``routine_every``). The caller enqueues their
    evaluations; if those are lost too, the lease runs out and the next
    sweep reserves them again."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    pending = EvaluationDue.objects.filter(free, pending_since__isnull=False)
    with transaction.atomic():
        urgent = list(
            pending.filter(urgent_since__lte=now - urgent_after)
            .order_by("urgent_since")
            .values_list("worker_id", flat=True)[:limit]
        )
        if urgent:
            _lock(EvaluationDue.objects.filter(worker_id__in=urgent).filter(free)).update(
                claim=token, claimed_until=now + urgent_lease
            )
        routine = list(
            pending.filter(pending_since__lte=now - routine_after)
            .filter(Q(evaluated_at__isnull=True) | Q(evaluated_at__lte=now - routine_every))
            .exclude(worker_id__in=urgent)
            .order_by("pending_since")
            .values_list("worker_id", flat=True)[:limit]
        )
        if routine:
            _lock(EvaluationDue.objects.filter(worker_id__in=routine).filter(free)).update(
                claim=token, claimed_until=now + routine_lease
            )
    return Overdue(token=token, urgent=urgent, routine=routine)


def evaluations_pending(*, worker_ids: set[int]) -> tuple[set[int], set[int]]:
    """Of ``worker_ids``, those with readings not yet evaluated, and those of
    them with an SOS or a fall among them."""
    rows = EvaluationDue.objects.filter(worker_id__in=worker_ids, pending_since__isnull=False)
    pending: set[int] = set()
    urgent: set[int] = set()
    for worker_id, urgent_since in rows.values_list("worker_id", "urgent_since"):
        pending.add(worker_id)
        if urgent_since is not None:
            urgent.add(worker_id)
    return pending, urgent
