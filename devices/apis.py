"""JSON API: the HTTP ingestion fallback, provisioning, and reading back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import protocol
from devices.buckets import parse_resolution
from devices.ingestion import DeviceLogin, Refusal, device_authenticate
from devices.models import Device
from devices.protocol import FrameError, Limits
from devices.selectors import readings_buckets, readings_for_worker
from devices.services import ProvisioningError, batch_receive, device_provision, device_revoke
from healthhub.params import query_params
from workers.models import StaffRole, Worker
from workers.roles import administered_sites, sites_for_role
from workers.selectors import worker_health_for

MAX_RAW_POINTS = 10_000
MAX_BUCKETS = 20_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DEFAULT_WINDOW = timedelta(days=1)


def _error(code: str, detail: str, http_status: int, seq: int | None = None) -> Response:
    return Response({"type": "error", "code": code, "detail": detail, "seq": seq}, status=http_status)


_ack_schema = inline_serializer(
    "Ack",
    {
        "type": serializers.CharField(),
        "seq": serializers.IntegerField(),
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.ListField(child=serializers.DictField()),
    },
)
_error_schema = inline_serializer(
    "ProtocolError",
    {
        "type": serializers.CharField(),
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "seq": serializers.IntegerField(allow_null=True),
    },
)


class IngestApi(APIView):
    """HTTP fallback of the device protocol: the same ``readings`` body, the
    same ``ack``. Meant for a device or gateway uploading a backlog."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: _ack_schema, 400: _error_schema, 401: _error_schema, 403: _error_schema},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        login = device_authenticate(token.strip() if scheme.lower() == "bearer" else None)
        if login is Refusal.UNAUTHENTICATED:
            response = _error("unauthenticated", "a valid device token is required", status.HTTP_401_UNAUTHORIZED)
            response["WWW-Authenticate"] = 'Bearer realm="devices"'
            return response
        if login is Refusal.UNASSIGNED:
            return _error("forbidden", "the device is not assigned to a worker", status.HTTP_403_FORBIDDEN)
        if login is Refusal.NO_CONSENT:
            return _error("forbidden", "the worker has not consented to monitoring", status.HTTP_403_FORBIDDEN)
        assert isinstance(login, DeviceLogin)
        limits = Limits.from_settings()
        try:
            # Refuse an oversized body by its declared length, before reading
            # it: past DATA_UPLOAD_MAX_MEMORY_SIZE Django would otherwise answer
            # with an HTML 400 that a device cannot parse.
            declared = _content_length(request)
            if declared > limits.max_frame_bytes:
                raise FrameError(
                    protocol.TOO_LARGE, f"frame is {declared} bytes; the limit is {limits.max_frame_bytes}"
                )
            message = protocol.decode_frame(request.body, limits)
            if message["type"] != "readings":
                raise FrameError(
                    protocol.UNKNOWN_TYPE, f"unknown message type {message['type']!r}", protocol.frame_seq(message)
                )
            # batch_receive never raises once the batch is committed: asking
            # for its evaluation is a fast path that logs its failures (the
            # outbox, written with the readings, is the record), so an ack
            # here is never replaced by a 500.
            ack, _active = batch_receive(
                device_id=login.device_id, worker_id=login.worker_id, message=message, limits=limits
            )
        except FrameError as exc:
            return Response(exc.as_message(), status=status.HTTP_400_BAD_REQUEST)
        return Response(ack)


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# --- Provisioning ------------------------------------------------------------


# A device belongs to a site through its worker. An unassigned device belongs
# to no site, so only superusers provision, see or revoke one; site
# administrators manage the devices of their own sites' workers.


class IsSiteAdmin(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.is_superuser or sites_for_role(request.user, StaffRole.SITE_ADMIN).exists()


class DeviceProvisionInput(serializers.Serializer):
    serial = serializers.CharField(max_length=64)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    employee_number = serializers.CharField(max_length=32, required=False, allow_null=True, default=None)


class DeviceOutput(serializers.Serializer):
    serial = serializers.CharField()
    model = serializers.CharField()
    employee_number = serializers.CharField(source="worker.employee_number", allow_null=True, default=None)
    status = serializers.CharField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    battery = serializers.FloatField(allow_null=True)


class DeviceProvisionApi(APIView):
    """Provision a device (site administrators). The token is in this
    response and nowhere else, ever."""

    permission_classes = [IsSiteAdmin]

    @extend_schema(
        request=DeviceProvisionInput,
        responses={
            201: inline_serializer("ProvisionedDevice", {"device": DeviceOutput(), "token": serializers.CharField()})
        },
    )
    def post(self, request: Request) -> Response:
        data = DeviceProvisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        worker = None
        if data.validated_data["employee_number"]:
            worker = Worker.objects.filter(
                employee_number=data.validated_data["employee_number"], site__in=administered_sites(request.user)
            ).first()
            if worker is None:
                return Response({"employee_number": ["no such worker on your sites"]}, status=400)
        elif not request.user.is_superuser:
            return Response(
                {"employee_number": ["required: a device assigned to nobody belongs to no site"]}, status=400
            )
        try:
            device, token = device_provision(
                serial=data.validated_data["serial"], model=data.validated_data["model"], worker=worker, by=request.user
            )
        except ProvisioningError as exc:
            return Response({"serial": [str(exc)]}, status=400)
        return Response({"device": DeviceOutput(device).data, "token": token}, status=201)


class DeviceRevokeApi(APIView):
    """Revoke a device's token; its open connection is closed with 4401."""

    permission_classes = [IsSiteAdmin]

    @extend_schema(request=None, responses={200: DeviceOutput})
    def post(self, request: Request, serial: str) -> Response:
        devices = Device.objects.select_for_update(of=("self",))
        if not request.user.is_superuser:
            devices = devices.filter(worker__site__in=administered_sites(request.user))
        with transaction.atomic():
            device = get_object_or_404(devices, serial=serial)
            device_revoke(device=device, by=request.user)
        return Response(DeviceOutput(device).data)


# --- Reading back --------------------------------------------------------------


_EPOCH_MS = re.compile(r"-?[0-9]+")


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantField(serializers.Field):
    """A time as the device protocol writes it: ISO 8601 with an offset, or
    integer epoch milliseconds (ASCII digits only)."""

    default_error_messages = {"invalid": "an ISO 8601 time with offset, or epoch milliseconds"}

    def to_internal_value(self, data: object) -> datetime:
        value: object = data
        if isinstance(data, str) and _EPOCH_MS.fullmatch(data):
            value = int(data)
        parsed = protocol.parse_timestamp(value)
        if parsed is None:
            self.fail("invalid")
        return parsed

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


@extend_schema_field(OpenApiTypes.STR)
class ResolutionField(serializers.Field):
    """A bucket width (30s, 5m, 1h, 1d ...), as seconds."""

    def to_internal_value(self, data: object) -> int:
        if not isinstance(data, str) or len(data) > 16:
            raise serializers.ValidationError("a resolution such as 30s, 5m, 1h or 1d")
        try:
            return parse_resolution(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: int) -> str:
        return f"{value}s"


class ReadingsQuery(serializers.Serializer):
    metric = serializers.ChoiceField(
        sorted(protocol.METRICS), required=False, error_messages={"invalid_choice": "unknown metric '{input}'"}
    )
    # "from" is a Python keyword: the field is named in the query string only.
    to = InstantField(required=False, help_text="default: now (exclusive)")
    resolution = ResolutionField(required=False, help_text="bucket width: 30s, 5m, 1h, 1d ...")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = InstantField(required=False, help_text="default: 24 h before 'to'")
        return fields


class PointOutput(serializers.Serializer):
    metric = serializers.CharField()
    value = serializers.FloatField()
    at = serializers.DateTimeField(source="measured_at")


class BucketOutput(serializers.Serializer):
    metric = serializers.CharField()
    start = serializers.DateTimeField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    mean = serializers.FloatField()
    count = serializers.IntegerField()


def _buckets_out(buckets: list[dict]) -> list[dict]:
    """``BucketOutput(buckets, many=True).data``, field for field, without a
    serializer per bucket: a month's chart has 1,440 of them, and DRF's
    machinery took longer than the queries."""
    start = serializers.DateTimeField().to_representation
    return [
        {
            "metric": b["metric"],
            "start": start(b["start"]),
            "min": float(b["min"]),
            "max": float(b["max"]),
            "mean": float(b["mean"]),
            "count": int(b["count"]),
        }
        for b in buckets
    ]


class WorkerReadingsApi(APIView):
    """A worker's readings: raw points, or per-bucket min/max/mean/count when
    a resolution is given. Visible to the worker and their site's clinicians;
    404 for everyone else."""

    @extend_schema(
        parameters=[ReadingsQuery],
        responses={
            200: inline_serializer(
                "Readings",
                {
                    "worker": serializers.IntegerField(),
                    "from": serializers.DateTimeField(),
                    "to": serializers.DateTimeField(),
                    "resolution": serializers.CharField(allow_null=True),
                    "points": PointOutput(many=True, required=False),
                    "buckets": BucketOutput(many=True, required=False),
                    "next": serializers.CharField(allow_null=True, required=False),
                },
            )
        },
    )
    def get(self, request: Request, worker_id: int) -> Response:
        # The query is checked before the access check, so that a query
        # refused as invalid is not logged as a read of the worker's data (and
        # a 400 reveals nothing about the worker: it does not depend on them).
        query = query_params(ReadingsQuery, request)
        metric = query.get("metric")
        end = query.get("to") or timezone.now()
        start = query.get("from") or max(end, _EPOCH + _DEFAULT_WINDOW) - _DEFAULT_WINDOW
        # Nothing is older than the epoch, and the buckets assume it.
        start = max(start, _EPOCH)
        if start >= end:
            raise serializers.ValidationError({"from": "must be before 'to'"})
        seconds = query.get("resolution")
        if seconds is not None and (end - start).total_seconds() / seconds > MAX_BUCKETS:
            raise serializers.ValidationError(
                {"resolution": f"more than {MAX_BUCKETS} buckets; choose a coarser resolution"}
            )
        worker = worker_health_for(request.user, worker_id, what="readings", reason=query["reason"])
        params = request.query_params
        body: dict = {"worker": worker.pk, "from": start, "to": end, "resolution": params.get("resolution") or None}
        if seconds is not None:
            buckets = readings_buckets(worker, metric=metric, start=start, end=end, seconds=seconds)
            body["buckets"] = _buckets_out(buckets)
            return Response(body)
        qs = readings_for_worker(worker, metric=metric, start=start, end=end)
        points = list(qs[: MAX_RAW_POINTS + 1])
        body["next"] = None
        if len(points) > MAX_RAW_POINTS:
            # Continue from the first point not returned; points at that same
            # instant are all in the next page because 'from' is inclusive.
            cut = points[MAX_RAW_POINTS].measured_at
            points = [p for p in points[:MAX_RAW_POINTS] if p.measured_at < cut]
            query = params.copy()
            query["from"] = cut.isoformat()
            query["to"] = end.isoformat()
            body["next"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        body["points"] = PointOutput(points, many=True).data
        return Response(body)
