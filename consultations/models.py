"""Consultations between a worker and the clinicians of the worker's site.

Everything here is health data: it is read through
``consultations.selectors`` (the worker and the clinicians of the worker's
site, nobody else) and deliberately not registered in the Django admin.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from alerts.guidance import BY_SLUG, Guide
from workers.models import Worker


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    SOON = "soon", _("Soon")
    URGENT = "urgent", _("Urgent")


URGENCY_RANK = {"routine": 1, "soon": 2, "urgent": 3}


class ConsultationStatus(models.TextChoices):
    # "Requested" alone is also the column of the time of the request.
    REQUESTED = "requested", pgettext_lazy("consultation status", "Requested")
    ACTIVE = "active", _("In progress")
    CLOSED = "closed", _("Closed")


class ConsultationKind(models.TextChoices):
    LIVE = "live", _("Talk with a clinician")
    QUESTION = "question", _("Question, answered in writing")


class Outcome(models.TextChoices):
    FIT_FOR_WORK = "fit_for_work", _("Fit for work")
    REST_THEN_RETURN = "rest_then_return", _("Rest, then return to work")
    GO_HOME = "go_home", _("Go home")
    REFER_TO_HOSPITAL = "refer_to_hospital", _("Refer to hospital")


class Consultation(models.Model):
    """A worker's consultation with a clinician, from request to outcome.

    ``clinician`` is whoever took it (null while requested); any clinician of
    the worker's site may take part. At most one consultation per alert.
    """

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="consultations", verbose_name=_("worker"))
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("clinician"),
    )
    reason = models.TextField(_("reason"), max_length=2000)
    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices, default=Urgency.ROUTINE)
    # Computed by the database from the urgency (every write path keeps the
    # queue order right).
    urgency_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(urgency=name, then=models.Value(rank)) for name, rank in URGENCY_RANK.items()),
            default=models.Value(1),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    alert = models.ForeignKey(
        "alerts.Alert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consultations",
        verbose_name=_("originating alert"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ConsultationStatus.choices, default=ConsultationStatus.REQUESTED
    )
    outcome = models.CharField(_("outcome"), max_length=32, choices=Outcome.choices, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ConsultationKind.choices, default=ConsultationKind.LIVE)
    # A question is answered by this time (the service's stated time); past it
    # unanswered, the site's clinicians are told again (``overdue_at``).
    answer_due_at = models.DateTimeField(_("answer due by"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("overdue since"), null=True, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert"], condition=Q(alert__isnull=False), name="consultation_one_per_alert"
            ),
            models.CheckConstraint(
                condition=Q(status="requested") | Q(clinician__isnull=False), name="consultation_taken_has_clinician"
            ),
            models.CheckConstraint(
                condition=(Q(status="closed") & ~Q(outcome="") & Q(closed_at__isnull=False))
                | (~Q(status="closed") & Q(outcome="")),
                name="consultation_outcome_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=["routine", "soon", "urgent"]), name="consultation_urgency_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-urgency_rank", "requested_at"], name="consultation_queue"),
            models.Index(fields=["worker", "-requested_at"], name="consultation_worker_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.worker} ({self.status})"

    @property
    def shown_reason(self) -> str:
        """The reason in the reader's language: one started from an alert
        stores the alert's (untranslated) message; a worker's own words are
        shown as written."""
        return gettext(self.reason) if self.alert_id else self.reason

    @property
    def is_closed(self) -> bool:
        return self.status == ConsultationStatus.CLOSED


class Message(models.Model):
    """A chat message. ``delivered_at`` and ``read_at`` are the other side's
    marks: the clinicians' for the worker's messages, the worker's for the
    clinicians'."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_worker = models.BooleanField()
    body = models.TextField(max_length=4000)
    # The language the sender wrote in (a code of settings.LANGUAGES), shown
    # beside the message: chat is never translated, so the reader sees
    # which language each message is in. Empty for messages from before.
    language = models.CharField(max_length=16, blank=True, default="")
    # The sending client's own id for the message, so that a message re-sent
    # after a lost connection is stored once.
    client_ref = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "sender", "client_ref"],
                condition=~Q(client_ref=""),
                name="message_client_ref_once",
            ),
        ]
        indexes = [models.Index(fields=["consultation", "id"], name="message_consultation")]

    def __str__(self) -> str:
        return f"{self.consultation_id}/{self.pk}"


class Note(models.Model):
    """A clinician's note: seen by the clinicians of the worker's site only,
    never by the worker."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.consultation_id}/note {self.pk}"


class Recommendation(models.Model):
    """Advice from a clinician, shared with the worker."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="recommendations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=2000)
    # A guidance page for the worker to read with it (alerts.guidance slug),
    # checked by the service against the registry; blank for none.
    guide = models.CharField(_("guidance page"), max_length=32, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.consultation_id}/recommendation {self.pk}"

    @property
    def guide_page(self) -> Guide | None:
        return BY_SLUG.get(self.guide)


class Clearance(models.Model):
    """A return-to-work clearance a clinician records after a consultation:
    the worker may return on ``return_on``. A later record for the same
    consultation supersedes an earlier one; none is changed or deleted."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="clearances", verbose_name=_("consultation")
    )
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="clearances", verbose_name=_("worker"))
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("clinician")
    )
    return_on = models.DateField(_("may return to work on"))
    note = models.TextField(_("note"), max_length=2000, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("return-to-work clearance")
        verbose_name_plural = _("return-to-work clearances")
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.worker} → {self.return_on}"


class PrivateStorage(FileSystemStorage):
    """Files outside MEDIA_ROOT with no URL: a photo is only ever served by
    the view that checks who asks and writes the access log. The folder is
    read from the settings each time (tests point it elsewhere)."""

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no URL; serve them through a view that checks access")


def _private_storage() -> PrivateStorage:
    return PrivateStorage()


class Photo(models.Model):
    """A photo a worker attaches to a question (a rash, a burn), re-encoded
    without its metadata (no location, no camera)."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="photos")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    image = models.FileField(storage=_private_storage, upload_to="consultation-photos/%Y/%m/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"photo {self.pk} of consultation {self.consultation_id}"
