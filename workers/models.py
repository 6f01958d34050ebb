from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from workers.names import person_name


class Site(models.Model):
    """A plant (or a group of plants) of the industrial complex."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Seoul")

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="departments", verbose_name=_("site"))
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["site__name", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="department_unique_name_per_site")]

    def __str__(self) -> str:
        return f"{self.site} / {self.name}"


class ShiftPattern(models.TextChoices):
    DAY = "day", _("Day shift")
    NIGHT = "night", _("Night shift")
    TWO_SHIFT = "two_shift", _("Two-shift rotation")
    THREE_SHIFT = "three_shift", _("Three-shift rotation")


class Worker(models.Model):
    """A monitored employee. Health data hangs off this, never off the user."""

    # PROTECT: a worker's sign-in is deactivated, never deleted (deleting it
    # would take the health record and its history with it).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="worker", verbose_name=_("user")
    )
    employee_number = models.CharField(_("employee number"), max_length=32, unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="workers", verbose_name=_("site"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="workers", verbose_name=_("department")
    )
    shift_pattern = models.CharField(
        _("shift pattern"), max_length=16, choices=ShiftPattern.choices, default=ShiftPattern.DAY
    )
    birth_year = models.PositiveSmallIntegerField(_("birth year"))
    # ACGIH's core-temperature limit is 38.5 °C for acclimatized workers and
    # 38.0 °C for the others. Unknown (None) until a clinician records it or
    # the worker's own first weeks of heat exposure settle it
    # (alerts.services.acclimatization_infer).
    acclimatized = models.BooleanField(
        _("acclimatized to heat"),
        null=True,
        blank=True,
        default=None,
        help_text=_("Unknown until a clinician records it or two weeks of work in the heat settle it."),
    )
    # Recorded by a clinician: NEWS2 scores SpO2 on scale 2 (target 88-92 %).
    hypercapnic_respiratory_failure = models.BooleanField(
        _("hypercapnic respiratory failure"),
        default=False,
        help_text=_("Recorded by a clinician: oxygen saturation is judged against a target of 88-92 %."),
    )
    # The language of their first sign-in sheet and of what is sent to them;
    # also what the portal speaks to them: set on each sign-in as the
    # browser's language, and changed by the worker's own language switch
    # (accounts.views.set_language, accounts.receivers).
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")
        ordering = ["employee_number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(birth_year__gte=1900, birth_year__lte=2100), name="worker_birth_year_plausible"
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee_number} {person_name(self.user)}"

    def save(self, *args, **kwargs) -> None:
        # Health data hangs off this record and its user signs in as the
        # worker: the link is fixed at creation and never points at a staff
        # account (a clinician or administrator signing in would otherwise
        # also be this worker, and moving the link would hand the worker's
        # history to another sign-in). workers.services.worker_user_check
        # holds the rule; the receivers in workers/receivers.py guard the
        # other side (a worker's user made staff, a staff profile for it).
        from workers.services import worker_user_check

        worker_user_check(worker=self)
        super().save(*args, **kwargs)


class Shift(models.Model):
    """A scheduled shift. Rules that only apply at work (signal lost, low
    battery, rest breaks) use these; day and night patterns without a
    schedule fall back to their usual hours (workers.selectors.worker_on_shift)."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("worker"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["worker", "starts_at"], name="shift_worker_start")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M}"


class CheckIn(models.Model):
    """A worker's daily symptom check-in (one per local day; a second one
    that day replaces the first)."""

    SYMPTOMS = ("fever", "cough", "sore_throat", "loss_of_taste_or_smell", "shortness_of_breath", "fatigue")

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="checkins", verbose_name=_("worker"))
    day = models.DateField(_("day"))
    temperature = models.FloatField(_("temperature (°C)"), null=True, blank=True)
    fever = models.BooleanField(_("fever or chills"), default=False)
    cough = models.BooleanField(_("cough"), default=False)
    sore_throat = models.BooleanField(_("sore throat"), default=False)
    loss_of_taste_or_smell = models.BooleanField(_("loss of taste or smell"), default=False)
    shortness_of_breath = models.BooleanField(_("shortness of breath"), default=False)
    fatigue = models.BooleanField(_("fatigue"), default=False)
    submitted_at = models.DateTimeField(_("submitted at"))

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "day"], name="checkin_one_per_day"),
            models.CheckConstraint(
                condition=models.Q(temperature__isnull=True) | models.Q(temperature__gte=30, temperature__lte=45),
                name="checkin_temperature_plausible",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.day}"

    @property
    def symptoms(self) -> list[str]:
        return [name for name in self.SYMPTOMS if getattr(self, name)]


class StaffRole(models.TextChoices):
    CLINICIAN = "clinician", _("Clinician")
    HR = "hr", _("HR / programme manager")
    SITE_ADMIN = "site_admin", _("Site administrator")
    # First responder for SOS and falls: sees who, where and what kind, never vitals.
    SAFETY_OFFICER = "safety_officer", _("Safety officer")


class StaffProfile(models.Model):
    """The role of a non-worker user and the sites it covers.

    The worker role is having a ``Worker`` record; a user has at most one staff
    role, so that HR can never also be a clinician through a second profile.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=16, choices=StaffRole.choices)
    sites = models.ManyToManyField(Site, related_name="staff", blank=True, verbose_name=_("sites"))

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class AccessOrigin(models.TextChoices):
    """How the data left the server (PIPA safety measures, Art. 8: the
    origin of each access)."""

    HTTP = "http", _("page or API")
    SOCKET_ALERTS = "socket:alerts", _("live alert stream")
    SOCKET_CONSULTATIONS = "socket:consultations", _("live consultation list")


class AccessAction(models.TextChoices):
    READ = "read", _("read")  # a page, an API answer or an export the person asked for
    PUSH = "push", _("pushed")  # sent to an open screen without being asked


class AccessLog(models.Model):
    """Who read whose health data, when, what and why, from where and how
    (PIPA safety measures, Art. 8: account, time, origin, subject, action).
    Append-only: rows are created, never changed or deleted by the
    application, and on PostgreSQL a trigger refuses UPDATE and DELETE
    (migration workers 0008)."""

    accessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("accessed by")
    )
    # PROTECT: deleting a worker must never take their access log with it
    # (a worker leaves by deactivation, see issue 8).
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="access_log", verbose_name=_("worker"))
    what = models.CharField(_("what"), max_length=200)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    origin = models.CharField(_("origin"), max_length=32, choices=AccessOrigin.choices, default=AccessOrigin.HTTP)
    action = models.CharField(_("action"), max_length=16, choices=AccessAction.choices, default=AccessAction.READ)
    # The record pushed ("alert:12", "consultation:3"): one row per record
    # per recipient, however often it is sent again.
    item = models.CharField(_("record"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(
                fields=["accessor", "worker", "item"],
                condition=models.Q(action="push"),
                name="access_log_one_push_per_item_and_recipient",
            )
        ]

    def __str__(self) -> str:
        return f"{self.accessor} → {self.worker} ({self.what})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("access log entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("access log entries cannot be deleted")


class ConsentText(models.Model):
    """One version of what a worker agrees to: what is collected, why, who
    sees it and for how long, in each language it is published in. A
    published text is never changed: a correction is a new version. A new
    language for a version already published is added by a data migration
    (see docs/languages.md), the same words in another language."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    # {"ko": "...", "en": "...", "vi": "..."}: keyed by language code, so a
    # further language needs no new column.
    texts = models.JSONField(_("texts by language"))
    published_at = models.DateTimeField(_("published at"))

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("a published consent text cannot be changed; publish a new version")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("consent texts cannot be deleted")

    def language_for(self, language: str | None) -> str:
        """The language this version is shown in to a reader of ``language``:
        that language, else its base language ("vi" for "vi-vn"), else the
        site default (settings.LANGUAGE_CODE), else any published one."""
        wanted = (language or "").lower()
        for code in (wanted, wanted.split("-")[0], settings.LANGUAGE_CODE):
            if code and self.texts.get(code):
                return code
        return next(iter(self.texts))

    def text_for(self, language: str | None) -> str:
        """The text shown to a reader of ``language`` (see language_for)."""
        return self.texts[self.language_for(language)]


class ConsentDecision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Consent(models.Model):
    """One decision of a worker about monitoring, under one text version.

    The history is append-only: a decision is recorded, never changed or
    deleted; the worker's latest decision is their current state (see
    workers.selectors.worker_has_consent)."""

    # PROTECT: a worker's consent history outlives any attempt to delete them.
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="consents", verbose_name=_("worker"))
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+", verbose_name=_("text version"))
    decision = models.CharField(_("decision"), max_length=16, choices=ConsentDecision.choices)
    # The language of the text the worker read when deciding (a key of the
    # text's ``texts``); empty for decisions recorded before languages were.
    language = models.CharField(_("language read"), max_length=16, blank=True, default="")
    at = models.DateTimeField(_("at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("consent decision")
        verbose_name_plural = _("consent decisions")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["worker", "-at", "-id"], name="consent_worker_latest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=["granted", "withdrawn"]), name="consent_decision_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.decision} v{self.text.version} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("consent decisions cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("consent decisions cannot be deleted")


class SignInCode(models.Model):
    """A one-time code that signs a new worker in on their phone (typed, or
    scanned as a QR code from the first sign-in sheet) so that they can set
    their own password. Only its SHA-256 hash is stored; it works once, for
    a limited time, and issuing a new one retires the older ones."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"


class WorkerEventKind(models.TextChoices):
    DEVICE_LINKED = "device_linked", _("A new wearable was linked to you")
    DEVICE_UNLINKED = "device_unlinked", _("A wearable was unlinked from you")
    DEVICE_REVOKED = "device_revoked", _("A wearable of yours was revoked")
    DEVICE_NEW_TOKEN = "device_new_token", _("A wearable of yours was given a new key")
    IDENTITY_CHANGED = "identity_changed", _("Your details were changed")


class WorkerEvent(models.Model):
    """Something done to the links between a worker and their data that the
    worker should hear of, shown on their privacy page (a wearable linked to
    them receives their alerts and sends readings in their name).
    Append-only, like the access log."""

    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="events", verbose_name=_("worker"))
    kind = models.CharField(_("what happened"), max_length=32, choices=WorkerEventKind.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        verbose_name = _("worker event")
        verbose_name_plural = _("worker events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.worker} {self.kind} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("worker events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("worker events cannot be deleted")
