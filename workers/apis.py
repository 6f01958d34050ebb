"""JSON API about workers: daily check-ins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workers.models import CheckIn, StaffRole, Worker
from workers.roles import has_staff_role, worker_of
from workers.selectors import worker_health_for
from workers.services import NoConsent, checkin_submit, worker_heat_profile_update


class CheckInInput(serializers.Serializer):
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=30, max_value=45, default=None)
    symptoms = serializers.ListField(
        child=serializers.ChoiceField(choices=CheckIn.SYMPTOMS), required=False, default=list
    )


class CheckInOutput(serializers.ModelSerializer):
    symptoms = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = CheckIn
        fields = ["day", "temperature", "symptoms", "submitted_at"]


class CheckInApi(APIView):
    """A worker submits today's check-in for themself."""

    @extend_schema(request=CheckInInput, responses={201: CheckInOutput})
    def post(self, request: Request) -> Response:
        worker = worker_of(request.user)
        if worker is None:
            raise PermissionDenied("only workers check in")
        data = CheckInInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            checkin = checkin_submit(worker=worker, **data.validated_data)
        except NoConsent as exc:
            raise PermissionDenied(str(exc)) from None
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(CheckInOutput(checkin).data, status=status.HTTP_201_CREATED)


class WorkerCheckInsApi(APIView):
    """A worker's last 30 check-ins (the worker and their site's clinicians)."""

    @extend_schema(responses=CheckInOutput(many=True))
    def get(self, request: Request, worker_id: int) -> Response:
        worker = worker_health_for(request.user, worker_id, what="check-ins")
        return Response(CheckInOutput(worker.checkins.all()[:30], many=True).data)


class ClinicalProfileSerializer(serializers.ModelSerializer):
    """What the alert rules need to know about a worker, as a clinician records it.
    ``acclimatized``: true, false, or null (unknown)."""

    class Meta:
        model = Worker
        fields = ["acclimatized", "hypercapnic_respiratory_failure"]
        extra_kwargs = {"acclimatized": {"allow_null": True, "required": False}}


class WorkerClinicalProfileApi(APIView):
    """Read (the worker and their site's clinicians) or change (their site's
    clinicians only) a worker's heat acclimatization and SpO2 scale."""

    @extend_schema(responses=ClinicalProfileSerializer)
    def get(self, request: Request, worker_id: int) -> Response:
        worker = worker_health_for(request.user, worker_id, what="clinical profile")
        return Response(ClinicalProfileSerializer(worker).data)

    @extend_schema(request=ClinicalProfileSerializer, responses=ClinicalProfileSerializer)
    def patch(self, request: Request, worker_id: int) -> Response:
        worker = worker_health_for(request.user, worker_id, what="clinical profile")
        if not has_staff_role(request.user, StaffRole.CLINICIAN):
            raise PermissionDenied("only the worker's clinicians record this")
        data = ClinicalProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        worker = worker_heat_profile_update(worker=worker, by=request.user, changes=data.validated_data)
        return Response(ClinicalProfileSerializer(worker).data)
