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
