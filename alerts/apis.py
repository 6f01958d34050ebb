"""JSON API for alerts: list and filter, read, acknowledge, resolve,
annotate, escalate, snooze. The same access rule as readings: the worker
themself (read only) and the clinicians of the worker's site."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import services
from alerts.models import Alert, AlertKind, AlertStatus, Severity
from alerts.payloads import AlertPayload
from alerts.selectors import alert_events_for, alerts_visible_to
from healthhub.params import IdField, query_params
from workers.models import StaffRole
from workers.roles import has_staff_role
from workers.selectors import worker_health_for
from workers.services import access_log_record

PAGE_SIZE = 200


class AlertOutput(AlertPayload):
    events = serializers.SerializerMethodField()
    message_text = serializers.SerializerMethodField()

    class Meta(AlertPayload.Meta):
        fields = [*AlertPayload.Meta.fields, "message_text", "evidence", "events"]

    def get_message_text(self, alert: Alert) -> str:
        """The message in the requester's language."""
        return gettext(alert.message)

    def get_events(self, alert: Alert) -> list[dict]:
        if not self.context.get("with_events"):
            return []
        return alert_events_for(self.context["request"].user, alert)


class IsClinician(BasePermission):
    message = "only clinicians act on alerts"

    def has_permission(self, request, view) -> bool:
        return has_staff_role(request.user, StaffRole.CLINICIAN)


def _visible(request: Request):
    return alerts_visible_to(request.user).select_related("worker__user", "worker__department")


UNRESOLVED = "unresolved"


class AlertListQuery(serializers.Serializer):
    status = serializers.ChoiceField([*AlertStatus.values, UNRESOLVED], default=UNRESOLVED)
    kind = serializers.ChoiceField(AlertKind.values, required=False)
    severity = serializers.ChoiceField(Severity.values, required=False)
    site = IdField(required=False)
    department = IdField(required=False)
    worker = IdField(required=False)


class AlertListApi(APIView):
    @extend_schema(parameters=[AlertListQuery], responses=AlertOutput(many=True))
    def get(self, request: Request) -> Response:
        query = query_params(AlertListQuery, request)
        qs = _visible(request)
        if query["status"] == UNRESOLVED:
            qs = qs.exclude(status=AlertStatus.RESOLVED)
        else:
            qs = qs.filter(status=query["status"])
        for name, field in (
            ("kind", "kind"),
            ("severity", "severity"),
            ("site", "worker__site_id"),
            ("department", "worker__department_id"),
            ("worker", "worker_id"),
        ):
            if name in query:
                qs = qs.filter(**{field: query[name]})
        alerts = list(qs.order_by("-severity_rank", "opened_at")[:PAGE_SIZE])
        for worker in {a.worker for a in alerts}:
            access_log_record(accessor=request.user, worker=worker, what="alerts")
        return Response(AlertOutput(alerts, many=True).data)


def _alert_for(request: Request, alert_id: int) -> Alert:
    alert = _visible(request).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound
    access_log_record(accessor=request.user, worker=alert.worker, what="alert")
    return alert


class AlertDetailApi(APIView):
    @extend_schema(responses=AlertOutput)
    def get(self, request: Request, alert_id: int) -> Response:
        alert = _alert_for(request, alert_id)
        return Response(AlertOutput(alert, context={"with_events": True, "request": request}).data)


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    # Private to the site's clinicians unless the author shares it (issue 8).
    share_with_worker = serializers.BooleanField(required=False, default=False)


ACTIONS = {
    "acknowledge": services.alert_acknowledge,
    "resolve": services.alert_resolve,
    "annotate": services.alert_annotate,
}


class AlertActionApi(APIView):
    """POST acknowledge / resolve / annotate / escalate, with an optional note."""

    permission_classes = [IsClinician]

    @extend_schema(request=NoteInput, responses=AlertOutput)
    def post(self, request: Request, alert_id: str, action: str) -> Response:
        alert = _alert_for(request, int(alert_id))
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            if action == "escalate":
                if not services.alert_escalate(alert_id=alert.pk, by=request.user):
                    raise services.AlertActionError("the alert is already escalated or resolved")
            else:
                ACTIONS[action](alert_id=alert.pk, by=request.user, **data.validated_data)
        except services.AlertActionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        alert.refresh_from_db()
        return Response(AlertOutput(alert, context={"with_events": True, "request": request}).data)


class SnoozeInput(serializers.Serializer):
    kind = serializers.ChoiceField(AlertKind.choices)
    severity = serializers.ChoiceField(Severity.choices)
    minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60)
    reason = serializers.CharField(max_length=300)


class SnoozeApi(APIView):
    """Snooze an alert kind for a worker (clinicians of the worker's site)."""

    permission_classes = [IsClinician]

    @extend_schema(request=SnoozeInput, responses={201: SnoozeInput})
    def post(self, request: Request, worker_id: int) -> Response:
        worker = worker_health_for(request.user, worker_id, what="snooze")
        data = SnoozeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            snooze = services.snooze_create(worker=worker, by=request.user, **data.validated_data)
        except services.AlertActionError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response({**data.validated_data, "until": snooze.until}, status=status.HTTP_201_CREATED)


class PushSubscriptionInput(serializers.Serializer):
    """A browser's PushSubscription (its toJSON()) and the name its user gives it."""

    name = serializers.CharField(max_length=80)
    endpoint = serializers.URLField(max_length=1000)
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)

    def _key(self, value: str, size: int, first: int | None = None) -> str:
        import base64
        import binascii

        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise serializers.ValidationError("not base64url") from None
        if len(raw) != size or (first is not None and raw[0] != first):
            raise serializers.ValidationError(f"must decode to {size} bytes")
        return value

    def validate_endpoint(self, value: str) -> str:
        if not value.startswith("https://") and not settings.DEBUG:
            raise serializers.ValidationError("a push service is reached over https")
        return value

    def validate_p256dh(self, value: str) -> str:
        return self._key(value, 65, first=4)  # an uncompressed P-256 point

    def validate_auth(self, value: str) -> str:
        return self._key(value, 16)


class PushSubscriptionApi(APIView):
    """Subscribe this browser to the signed-in user's notifications."""

    @extend_schema(request=PushSubscriptionInput, responses={201: PushSubscriptionInput})
    def post(self, request: Request) -> Response:
        from alerts.notify.services import subscription_save

        data = PushSubscriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        sub = subscription_save(user=request.user, **data.validated_data)
        return Response({"id": sub.pk, "name": sub.name}, status=status.HTTP_201_CREATED)
