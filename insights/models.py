from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from workers.models import Department, Site


class SignalKind(models.TextChoices):
    FEVER = "fever", _("Fever")
    SYMPTOMATIC = "symptomatic", _("Symptomatic check-ins")


class ClusterSignal(models.Model):
    """A day on which a site's or department's daily count exceeded what its
    recent past predicts (EARS C2, insights.outbreak). Counts only: which
    workers are behind it is computed for clinicians when they look."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="cluster_signals", verbose_name=_("site"))
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("department")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SignalKind.choices)
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("count"))
    expected = models.FloatField(_("expected"))
    c2 = models.FloatField("C2")
    detected_at = models.DateTimeField(_("detected at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cluster signal")
        verbose_name_plural = _("cluster signals")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "department", "kind", "day"],
                condition=models.Q(department__isnull=False),
                name="cluster_signal_unique_department",
            ),
            models.UniqueConstraint(
                fields=["site", "kind", "day"],
                condition=models.Q(department__isnull=True),
                name="cluster_signal_unique_site",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.department or ''} {self.kind} {self.day}"


class PeriodKind(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")


class PeriodSnapshot(models.Model):
    """What HR may see of one closed period of a site, computed once when the
    period has closed and never changed afterwards: a closed day's outbreak
    signals, or a closed ISO week's tables, already suppressed (hidden
    values are not stored at all). HR pages read only these, so two reads
    can never differ by a worker who has just checked in."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("site"))
    kind = models.CharField(_("kind"), max_length=8, choices=PeriodKind.choices)
    start = models.DateField(_("start"))  # the day, or the Monday of the week, in the site's time zone
    k = models.PositiveSmallIntegerField("k")
    data = models.JSONField(_("published figures"))
    taken_at = models.DateTimeField(_("taken at"))

    class Meta:
        verbose_name = _("period snapshot")
        verbose_name_plural = _("period snapshots")
        ordering = ["site", "kind", "-start"]
        constraints = [models.UniqueConstraint(fields=["site", "kind", "start"], name="period_snapshot_unique")]

    def __str__(self) -> str:
        return f"{self.site} {self.kind} {self.start}"


class SiteNotice(models.Model):
    """A notice to every worker of a site that more illness than usual is
    going round there, posted once per site per day its outbreak signal
    fired (insights.services.notices_post). It holds no count, no
    department and no name: only the site, the signal's day and how long it
    is shown."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="notices", verbose_name=_("site"))
    day = models.DateField(_("signal day"))
    posted_at = models.DateTimeField(_("posted at"))
    expires_at = models.DateTimeField(_("shown until"))

    class Meta:
        verbose_name = _("site notice")
        verbose_name_plural = _("site notices")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["site", "day"], name="site_notice_once_per_day"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("posted_at")), name="site_notice_expires_later"
            ),
        ]
        indexes = [models.Index(fields=["site", "expires_at"], name="site_notice_current")]

    def __str__(self) -> str:
        return f"{self.site} notice {self.day}"
