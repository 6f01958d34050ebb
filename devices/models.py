from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from workers.models import Worker


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


class Device(models.Model):
    """A wearable (or the gateway that relays it).

    Its token is stored only as a SHA-256 hash: tokens are 256-bit random
    values, so a fast hash is enough and lets the server find the device by
    hash in one indexed lookup.
    """

    serial = models.CharField(_("serial number"), max_length=64, unique=True)
    model = models.CharField(_("model"), max_length=100, blank=True)
    worker = models.ForeignKey(
        Worker,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("assigned worker"),
    )
    status = models.CharField(_("status"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    token_issued_at = models.DateTimeField(_("token issued at"), null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    battery = models.FloatField(_("battery (%)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["serial"]

    def __str__(self) -> str:
        return self.serial


class Reading(models.Model):
    """One measured value. Its identity is (device, metric, measured_at), the
    composite primary key, which is also what makes storage idempotent."""

    pk = models.CompositePrimaryKey("device", "metric", "measured_at")
    # Both foreign keys are covered by the leading columns of the primary key
    # and of the per-worker index, so they need no index of their own.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+", db_index=False)
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="readings", db_index=False)
    metric = models.CharField(max_length=20)
    value = models.FloatField()
    measured_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        # On PostgreSQL the table is partitioned by day (migration 0004,
        # devices.partitions); the index carries the device so that every
        # readings index holds the distribution key of a sharded database.
        indexes = [
            models.Index(
                fields=["worker", "metric", "measured_at"], include=["device"], name="reading_worker_metric_time"
            )
        ]

    def __str__(self) -> str:
        # No value, no metric: a reading's text can surface in generic pages
        # (the admin lists related objects) that are not audited reads.
        return f"reading of device {self.device_id} at {self.measured_at.isoformat()}"


class Summary(models.Model):
    """A worker's readings of one metric over a span of time (the subclass
    names the span's field and makes it part of the primary key)."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="+", db_index=False)
    metric = models.CharField(max_length=20)
    count = models.PositiveIntegerField()
    mean = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()

    class Meta:
        abstract = True


class ReadingMinute(Summary):
    """Per-minute summary of a worker's readings of one metric, kept after
    the raw readings have passed their retention period (devices.retention).
    On PostgreSQL each day is also summarised once it has closed
    (devices.partitions), and long charts read the summaries
    (devices.selectors.readings_buckets)."""

    pk = models.CompositePrimaryKey("worker", "metric", "minute")
    minute = models.DateTimeField()

    def __str__(self) -> str:
        return f"summary of worker {self.worker_id} at {self.minute.isoformat()}"


class ReadingHour(Summary):
    """Per-hour summary of a worker's readings of one metric, from the
    minute summaries of each closed day (PostgreSQL): a month's chart reads
    720 of these per metric instead of 43,200 minutes."""

    pk = models.CompositePrimaryKey("worker", "metric", "hour")
    hour = models.DateTimeField()

    def __str__(self) -> str:
        return f"hourly summary of worker {self.worker_id} at {self.hour.isoformat()}"


class LateHour(models.Model):
    """A worker's hour that readings came into after it was rolled up (they
    arrived more than ``devices.partitions.LATE_AFTER`` after the hour
    closed, e.g. from a device that was offline): its summaries miss them
    until ``devices.partitions.late_hours_roll_up`` rolls the hour up again
    (beat, every few minutes). Written by ingestion in the transaction that
    stores the readings, on PostgreSQL only (SQLite keeps no summaries)."""

    pk = models.CompositePrimaryKey("worker", "hour")
    # No database constraint, as WindowBucket: no lock on the worker's row;
    # no index of its own: the primary key's leading column is the worker.
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    hour = models.DateTimeField()

    def __str__(self) -> str:
        return f"late readings of worker {self.worker_id} in the hour of {self.hour.isoformat()}"


class WindowBucket(models.Model):
    """What the risk engine's window holds of a worker's readings, summed
    as they are stored (devices.windows): per metric, 5-second buckets for
    the recent past and minute buckets for the hours before. An evaluation
    reads a few hundred of these instead of re-reading every raw reading of
    the last hours at every turn. Written in the transaction that stores the
    readings, from the readings it inserted (so a re-sent batch adds
    nothing); pruned past the window by beat."""

    pk = models.CompositePrimaryKey("worker", "span", "metric", "start")
    # No database constraint: the foreign-key check would lock the worker
    # row at every store. Deleting a worker still deletes these (Django).
    # No index of its own either: the primary key leads with the worker, and
    # a second index would be written at every new bucket.
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    span = models.PositiveSmallIntegerField()  # seconds: RAW_BUCKET_S or 60
    metric = models.CharField(max_length=20)
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    total = models.FloatField()
    last_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"window bucket of worker {self.worker_id} at {self.start.isoformat()}"


class EvaluationDue(models.Model):
    """The outbox of alert evaluation: one row per worker, written in the
    same transaction as the worker's new readings, saying that readings were
    stored that no evaluation has looked at yet.

    Celery and Redis only carry the request to evaluate; this row is the
    record of it. The evaluation claims the row (a conditional UPDATE, so a
    duplicated or redelivered task does nothing), and clears it when done,
    unless more readings came meanwhile (``version`` moved on). A sweeper
    (beat) re-enqueues rows nobody evaluated in time: the request was lost
    with Redis, or the worker that held the claim died.
    """

    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Incremented by each store that adds readings for the worker.
    version = models.BigIntegerField(default=0)
    # Receipt time of the oldest batch not yet evaluated (null: nothing pending).
    pending_since = models.DateTimeField(null=True, blank=True)
    # The same for batches with an SOS or a fall, and the version of the
    # newest such batch: they are evaluated at once, not at the routine rate.
    urgent_since = models.DateTimeField(null=True, blank=True)
    urgent_version = models.BigIntegerField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # Who is evaluating (or has been asked to, by the sweeper), until when.
    claim = models.CharField(max_length=32, null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["pending_since"], name="evaluation_due_pending", condition=models.Q(pending_since__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"worker {self.worker_id}: pending since {self.pending_since}"
