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
    # The escalation chain (alerts.escalation): how many of its steps have
    # run, when the next one is due (null: stopped or finished), and when the
    # last one ran. Claimed with conditional updates on chain_step.
    chain_step = models.PositiveSmallIntegerField(default=0, editable=False)
    chain_next_at = models.DateTimeField(null=True, blank=True, editable=False)
    chain_final_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Where the worker was when it opened (a gateway or beacon id the device
    # reported), for first responders; blank when unknown.
    zone = models.CharField(_("zone"), max_length=64, blank=True, default="")
    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responder_status = models.CharField(_("responder"), max_length=16, blank=True, default="")
    responder_at = models.DateTimeField(null=True, blank=True)

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
            models.Index(fields=["status", "chain_next_at"], name="alert_chain_due"),
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
        STEP = "step", _("Escalation step")
        ON_MY_WAY = "on_my_way", _("Responder on the way")
        WITH_WORKER = "with_worker", _("Responder with the worker")

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


# --- Notifications, on-call and escalation chains -----------------------------


class Channel(models.TextChoices):
    PUSH = "push", _("Push notification")
    EMAIL = "email", _("Email")
    SMS = "sms", _("Text message (SMS / KakaoTalk)")


class PushSubscription(models.Model):
    """One browser or installed portal that receives Web Push for a user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    name = models.CharField(_("device name"), max_length=80)
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.user} – {self.name}"


def default_channel_severities() -> dict:
    # Text messages need a number, which nobody has given yet: they choose SMS with it.
    return {"push": ["warning", "urgent", "critical"], "email": ["urgent", "critical"], "sms": []}


class NotificationPreference(models.Model):
    """Which severities reach a user by which channel, and their quiet hours
    (local time; never applied to critical alerts)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = models.JSONField(default=default_channel_severities)
    phone = models.CharField(_("mobile number"), max_length=20, blank=True)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="Asia/Seoul")
    language = models.CharField(max_length=8, default="ko")

    def __str__(self) -> str:
        return str(self.user)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    HELD = "held", _("Held (quiet hours)")


class Notification(models.Model):
    """One message owed to one person by one channel because of one alert
    event, written in the transaction of that event. A Celery task sends it
    (claimed with a conditional UPDATE); a beat sweeper re-sends what is
    still waiting, so Redis and Celery are only the fast path."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user", "channel"], name="notification_once_per_event"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.user} for alert {self.alert_id} ({self.status})"


class OnCallShift(models.TextChoices):
    DAY = "day", _("Day shift")
    NIGHT = "night", _("Night shift")


class OnCall(models.Model):
    """One period of a site's on-call rota: a primary and a backup for a day
    or a night shift."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="on_call", verbose_name=_("site"))
    shift = models.CharField(_("shift"), max_length=8, choices=OnCallShift.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    primary = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("primary")
    )
    backup = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("backup"),
    )

    class Meta:
        verbose_name = _("on-call period")
        verbose_name_plural = _("on-call rota")
        ordering = ["site", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="oncall_ends_after_start"
            ),
            models.UniqueConstraint(fields=["site", "starts_at"], name="oncall_one_period_per_start"),
        ]
        indexes = [models.Index(fields=["site", "starts_at", "ends_at"], name="oncall_lookup")]

    def __str__(self) -> str:
        return f"{self.site} {self.get_shift_display()} {self.starts_at:%Y-%m-%d %H:%M}"


class Target(models.TextChoices):
    DESK = "desk", _("The desk only")
    PRIMARY = "primary", _("Primary on call")
    BACKUP = "backup", _("Backup on call")
    CLINICIANS = "clinicians", _("Every clinician of the site")
    SAFETY_OFFICERS = "safety_officers", _("The site's safety officers")


class EscalationStep(models.Model):
    """One step of a site's escalation chain for one severity: after
    ``after_s`` seconds unacknowledged, notify ``targets``. A site without
    steps for a severity uses the built-in chain (alerts.escalation)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="escalation_steps", verbose_name=_("site"))
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    after_s = models.PositiveIntegerField(_("after (seconds unacknowledged)"))
    targets = models.JSONField(_("notify"), default=list)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation chains")
        ordering = ["site", "severity", "after_s"]
        constraints = [
            models.UniqueConstraint(fields=["site", "severity", "after_s"], name="escalation_step_unique_time"),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.severity} +{self.after_s}s"


class WorkerZone(models.Model):
    """The zone (a gateway or beacon id) a worker's device last reported."""

    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, related_name="zone")
    zone = models.CharField(max_length=64)
    reported_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.zone}"
