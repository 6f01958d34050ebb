"""Labels and messages the browser needs to show live alerts in the user's language."""

from __future__ import annotations

from django.utils.translation import gettext

from alerts.models import AlertKind, AlertStatus, Severity
from alerts.rules import messages


def alert_labels() -> dict[str, dict[str, str]]:
    """Translated kind, severity and status labels, and the rules' messages."""
    return {
        "kind": {k: str(label) for k, label in AlertKind.choices},
        "severity": {k: str(label) for k, label in Severity.choices},
        "status": {k: str(label) for k, label in AlertStatus.choices},
        "message": {m: gettext(m) for m in messages.ALL},
    }
