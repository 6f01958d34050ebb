from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workers.models import Site, Worker


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    URGENT = "urgent", _("Urgent")
    CRITICAL = "critical", _("Critical")


SEVERITY_RANK = {"info": 1, "warning": 2, "urgent": 3, "critical": 4}


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class AlertKind(models.TextChoices):
    SOS = "sos", _("SOS")
    FALL = "fall", _("Fall")
    HEAT_STRAIN = "heat_strain", _("Heat strain")
    HYPOXEMIA = "hypoxemia", _("Low blood oxygen")
    EARLY_WARNING = "early_warning", _("Early-warning score")
    POSSIBLE_ILLNESS = "possible_illness", _("Possible illness")
    FEVER = "fever", _("Fever")
    REST_OVERDUE = "rest_overdue", _("Rest break overdue")
    OFF_BODY = "off_body", _("Wearable off or loose")
    SIGNAL_LOST = "signal_lost", _("Signal lost")
    NO_HEART_RATE = "no_heart_rate", _("No heart rate")
    LOW_BATTERY = "low_battery", _("Low battery")


class Alert(models.Model):
    """One risk condition of one worker, from opening to resolution.

    At most one unresolved alert per (worker, kind): a repeated trigger
    updates it. The evidence (readings and computed values) is kept with it.
    """

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("worker"))
    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    # Computed by the database from the severity, so that every write path
    # (save, update, bulk_create) keeps the triage order right.
    severity_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(severity=name, then=models.Value(rank)) for name, rank in SEVERITY_RANK.items()),
            default=models.Value(0),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    message = models.CharField(_("message"), max_length=200)
    evidence = models.JSONField(_("evidence"), default=dict)
    opened_at = models.DateTimeField(_("opened at"))
    updated_at = models.DateTimeField(_("updated at"))
    clear_since = models.DateTimeField(null=True, blank=True, editable=False)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    auto_resolved = models.BooleanField(_("resolved automatically"), default=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-severity_rank", "opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "kind"],
                condition=~models.Q(status="resolved"),
                name="alert_one_unresolved_per_worker_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["info", "warning", "urgent", "critical"]), name="alert_severity_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-severity_rank", "opened_at"], name="alert_triage"),
            models.Index(fields=["worker", "-opened_at"], name="alert_worker_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.severity}) – {self.worker}"


class AlertEvent(models.Model):
    """The alert's history: what happened, when, by whom (null: the system)."""

    class Action(models.TextChoices):
        OPENED = "opened", _("Opened")
        CHANGED = "changed", _("Severity changed")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ESCALATED = "escalated", _("Escalated")
        NOTE = "note", _("Note")
        RESOLVED = "resolved", _("Resolved")
        AUTO_RESOLVED = "auto_resolved", _("Resolved automatically")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    # A clinician's note (detail["note"]) is for the site's clinicians unless
    # its author chose to share it with the worker when writing it.
    shared_with_worker = models.BooleanField(_("shared with the worker"), default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class Snooze(models.Model):
    """A clinician's "don't tell me about this kind for this worker until
    ...". A worse severity than the one snoozed breaks through."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="snoozes")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    until = models.DateTimeField()
    reason = models.CharField(max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["worker", "kind", "until"], name="snooze_lookup")]

    def __str__(self) -> str:
        return f"{self.worker} {self.kind} until {self.until:%Y-%m-%d %H:%M}"


class Baseline(models.Model):
    """A worker's resting heart-rate baseline over the last 14 days."""

    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, related_name="baseline")
    rest_hr_median = models.FloatField(null=True)
    rest_hr_spread = models.FloatField(null=True)
    minutes = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker}: {self.rest_hr_median}"


class SiteThresholds(models.Model):
    """A site's overrides of the rule thresholds (alerts.rules.thresholds)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="thresholds", verbose_name=_("site"))
    overrides = models.JSONField(_("overrides"), default=dict, blank=True)

    class Meta:
        verbose_name = _("site thresholds")
        verbose_name_plural = _("site thresholds")

    def __str__(self) -> str:
        return str(self.site)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from alerts.rules.thresholds import DEFAULTS

        if not isinstance(self.overrides, dict):
            raise ValidationError({"overrides": _("Overrides must be a JSON object.")})
        try:
            DEFAULTS.with_overrides(self.overrides)
        except ValueError as exc:
            raise ValidationError({"overrides": str(exc)}) from None
