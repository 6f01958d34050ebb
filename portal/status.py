"""The worker portal's plain-words status: what the worker's open alerts
mean for them right now ("all normal", "take a break in the shade").

Pure: it takes the open alerts' kinds and severities and returns msgids; the
page translates them, and the page's script gets the same table
(``status_table``) to recompute the status when an alert arrives live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_noop

# The tone of the status card, from the worst open alert's severity.
TONE_BY_SEVERITY = {"critical": "danger", "urgent": "danger", "warning": "caution", "info": "info"}
SEVERITY_RANK = {"info": 1, "warning": 2, "urgent": 3, "critical": 4}

ALL_NORMAL = gettext_noop("All normal")
MONITORING_OFF = gettext_noop("Monitoring is off")

# What to do, per alert kind, in the worker's words. Among alerts of the same
# severity the one listed first speaks (a person in danger before a device).
ADVICE_BY_KIND = {
    "sos": gettext_noop("Your clinic has been alerted: stay where you are"),
    "fall": gettext_noop("A fall was detected: your clinic has been alerted"),
    "heat_strain": gettext_noop("Stop work and rest in the shade with water"),
    "hypoxemia": gettext_noop("Stop and rest: your blood oxygen is low"),
    "early_warning": gettext_noop("Please see the clinic"),
    "fever": gettext_noop("You may have a fever: see the clinic before going on"),
    "possible_illness": gettext_noop("You may be unwell: please see the clinic"),
    "rest_overdue": gettext_noop("Take a break in the shade"),
    "off_body": gettext_noop("Check your wearable: it seems loose"),
    "signal_lost": gettext_noop("Check your wearable: it is not sending"),
    "no_heart_rate": gettext_noop("Check your wearable: it is not reading your heart rate"),
    "low_battery": gettext_noop("Charge your wearable"),
}
_KIND_ORDER = {kind: index for index, kind in enumerate(ADVICE_BY_KIND)}


@dataclass(frozen=True)
class Status:
    tone: str  # ok, info, caution, danger, off
    text: str  # a msgid
    kind: str | None = None

    @property
    def label(self) -> str:
        return gettext(self.text)


def status_for(open_alerts: Iterable[tuple[str, str]], *, monitoring: bool = True) -> Status:
    """The status for the worker's unresolved alerts, given as (kind,
    severity) pairs: the worst severity decides the tone and, among equals,
    the most pressing kind decides the words. No alert: all normal; no
    consent: monitoring is off (whatever alerts are left open)."""
    if not monitoring:
        return Status("off", MONITORING_OFF)
    worst = min(
        ((kind, severity) for kind, severity in open_alerts if severity in SEVERITY_RANK),
        key=lambda pair: (-SEVERITY_RANK[pair[1]], _KIND_ORDER.get(pair[0], len(_KIND_ORDER))),
        default=None,
    )
    if worst is None:
        return Status("ok", ALL_NORMAL)
    kind, severity = worst
    return Status(TONE_BY_SEVERITY[severity], ADVICE_BY_KIND.get(kind, gettext_noop("Please see the clinic")), kind)


def status_table() -> dict:
    """The same rules for the page's script, translated."""
    return {
        "ok": gettext(ALL_NORMAL),
        "fallback": gettext("Please see the clinic"),
        "order": list(ADVICE_BY_KIND),
        "advice": {kind: gettext(text) for kind, text in ADVICE_BY_KIND.items()},
        "rank": SEVERITY_RANK,
        "tone": TONE_BY_SEVERITY,
    }
