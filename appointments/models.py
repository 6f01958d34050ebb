from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from consultations.models import Consultation
from workers.models import Site, Worker


class Mode(models.TextChoices):
    VIDEO = "video", _("Video call")
    CHAT = "chat", _("Chat")
    IN_PERSON = "in_person", _("In person at the health room")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Availability(models.Model):
    """Recurring weekly hours in which a clinician takes appointments at a
    site, in the site's local time. Hours that end at or before they start
    run past midnight (night-shift coverage)."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("clinician")
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site"))
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=20)
    mode = models.CharField(_("how"), max_length=16, choices=Mode.choices, default=Mode.VIDEO)

    class Meta:
        verbose_name = _("availability")
        verbose_name_plural = _("availability")
        ordering = ["site", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5) & Q(slot_minutes__lte=240), name="availability_slot_length"
            ),
            models.CheckConstraint(condition=~Q(starts=F("ends")), name="availability_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"

    @property
    def overnight(self) -> bool:
        return self.ends <= self.starts


class AvailabilityException(models.Model):
    """A day that differs from the weekly hours: the clinician is away
    (``available`` false; the whole day when no hours are given), or takes
    appointments at extra hours."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("clinician")
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site"))
    day = models.DateField(_("day"))
    starts = models.TimeField(_("from"), null=True, blank=True)
    ends = models.TimeField(_("until"), null=True, blank=True)
    available = models.BooleanField(_("takes appointments"), default=False)
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=20)
    mode = models.CharField(_("how"), max_length=16, choices=Mode.choices, default=Mode.VIDEO)

    class Meta:
        verbose_name = _("availability exception")
        verbose_name_plural = _("availability exceptions")
        ordering = ["day", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(available=False) | (Q(starts__isnull=False) & Q(ends__isnull=False)),
                name="exception_extra_hours_have_times",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {'+' if self.available else '−'}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")
    COMPLETED = "completed", _("Attended")
    NO_SHOW = "no_show", _("Missed")


class Appointment(models.Model):
    """A booked time between a worker and a clinician. A clinician is never
    booked twice at one time, nor a worker: the database refuses it."""

    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("worker"))
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("clinician")
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    mode = models.CharField(_("how"), max_length=16, choices=Mode.choices)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(
        _("status"), max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    booked_at = models.DateTimeField(_("booked at"))
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # The consultation room, made when the first of the two joins.
    consultation = models.OneToOneField(
        Consultation, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointment"
    )
    worker_joined_at = models.DateTimeField(null=True, blank=True)
    reminded_day_before_at = models.DateTimeField(null=True, blank=True)
    reminded_soon_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinician", "starts_at"],
                condition=Q(status="booked"),
                name="appointment_clinician_not_double_booked",
            ),
            models.UniqueConstraint(
                fields=["worker", "starts_at"],
                condition=Q(status="booked"),
                name="appointment_worker_not_double_booked",
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"),
        ]
        indexes = [
            models.Index(fields=["status", "starts_at"], name="appointment_due"),
            models.Index(fields=["worker", "-starts_at"], name="appointment_worker_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"


def _new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """A clinician's private iCalendar address (a capability: whoever has it
    sees the clinician's appointment times, never who or why)."""

    clinician = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=_new_feed_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"calendar of user {self.clinician_id}"
