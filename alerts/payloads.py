"""What the desk, the portal, the JSON API and the sockets receive about an
alert: one shape, built here. The sockets get ``alert_payload`` (the same
fields as the API's list, without the evidence, which stays behind the API's
access-logged read); the API's ``AlertOutput`` (alerts.apis) adds the
evidence, the message in the reader's language and, for one alert, its
events."""

from __future__ import annotations

from rest_framework import serializers

from alerts.models import Alert
from workers.names import person_name


class AlertPayload(serializers.ModelSerializer):
    employee_number = serializers.CharField(source="worker.employee_number")
    worker_name = serializers.SerializerMethodField()
    department = serializers.CharField(source="worker.department.name")
    site = serializers.IntegerField(source="worker.site_id")

    class Meta:
        model = Alert
        fields = [
            "id", "worker", "employee_number", "worker_name", "department", "site", "kind", "severity",
            "status", "message", "opened_at", "updated_at", "acknowledged_at", "resolved_at", "escalated_at",
            "auto_resolved", "zone", "responder_status",
        ]  # fmt: skip

    def get_worker_name(self, alert: Alert) -> str:
        return person_name(alert.worker.user)


def alert_payload(alert: Alert) -> dict:
    """An alert as the sockets send it (plain JSON types)."""
    return dict(AlertPayload(alert).data)
