"""JSON API of consultations, mirroring the services. The same access rule
as the pages: the worker and the clinicians of the worker's site; anyone
else gets 404 (clinician-only actions: 403 for anyone who is not a
clinician at all, 404 for a clinician of another site). Notes appear in
responses to clinicians only."""

from __future__ import annotations

from django.http import Http404
from django.utils import translation
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.guidance import guide_choices
from alerts.selectors import alerts_visible_to
from consultations import services
from consultations.models import Consultation, ConsultationStatus, Outcome, Urgency
from consultations.payloads import (
    clearance_payload,
    consultation_payload,
    message_payload,
    note_payload,
    recommendation_payload,
)
from consultations.selectors import (
    Side,
    clearances_of,
    consultation_for,
    consultations_visible_to,
    messages_of,
    notes_visible_to,
    recommendations_of,
    side_of,
)
from healthhub.params import IdField, query_params
from workers.models import StaffRole
from workers.roles import has_staff_role, worker_of
from workers.services import access_log_record

PAGE_SIZE = 200
MESSAGES_PAGE = 500
# The lists (consultations, messages, notes) are JSON arrays of objects.
OBJECTS = build_array_type(build_basic_type(OpenApiTypes.OBJECT))


class IsClinician(BasePermission):
    message = "only clinicians do this"

    def has_permission(self, request, view) -> bool:
        return has_staff_role(request.user, StaffRole.CLINICIAN)


def _consultation(request: Request, consultation_id: int | str, what: str = "consultation") -> Consultation:
    try:
        return consultation_for(request.user, int(consultation_id), what=what)
    except Http404:
        raise NotFound from None


def _conflict(exc: services.ConsultationError) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _detail(request: Request, consultation: Consultation) -> dict:
    data = consultation_payload(consultation)
    data["messages"] = [message_payload(m) for m in messages_of(consultation)[:MESSAGES_PAGE]]
    data["recommendations"] = [recommendation_payload(r) for r in recommendations_of(consultation)]
    data["clearances"] = [clearance_payload(c) for c in clearances_of(consultation)]
    if side_of(request.user, consultation) is Side.CLINICIAN:
        data["notes"] = [note_payload(n) for n in notes_visible_to(request.user, consultation)]
    return data


class RequestInput(serializers.Serializer):
    reason = serializers.CharField(max_length=services.MAX_TEXT)
    urgency = serializers.ChoiceField(Urgency.choices, default=Urgency.ROUTINE)


OPEN = "open"


class ConsultationListQuery(serializers.Serializer):
    status = serializers.ChoiceField([*ConsultationStatus.values, OPEN], required=False)


class ConsultationListApi(APIView):
    """GET: the consultations the requester may see (``status`` filter, most
    recent first). POST: a worker asks for a consultation."""

    @extend_schema(
        operation_id="consultations_list",
        parameters=[ConsultationListQuery],
        responses={200: OBJECTS},
    )
    def get(self, request: Request) -> Response:
        wanted = query_params(ConsultationListQuery, request).get("status")
        qs = consultations_visible_to(request.user).select_related("worker__user", "clinician")
        if wanted == OPEN:
            qs = qs.exclude(status=ConsultationStatus.CLOSED)
        elif wanted:
            qs = qs.filter(status=wanted)
        consultations = list(qs.order_by("-requested_at")[:PAGE_SIZE])
        for worker in {c.worker for c in consultations}:
            access_log_record(accessor=request.user, worker=worker, what="consultations")
        return Response([consultation_payload(c) for c in consultations])

    @extend_schema(request=RequestInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        worker = worker_of(request.user)
        if worker is None:
            raise PermissionDenied("only a worker asks for a consultation")
        data = RequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            consultation = services.consultation_request(worker=worker, **data.validated_data)
        except services.ConsultationError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(consultation_payload(consultation), status=status.HTTP_201_CREATED)


class FromAlertApi(APIView):
    """A clinician starts a consultation about an alert, or gets the one
    already started for it (200 instead of 201)."""

    permission_classes = [IsClinician]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT})
    def post(self, request: Request, alert_id: int) -> Response:
        alert = alerts_visible_to(request.user).filter(pk=alert_id).first()
        if alert is None:
            raise NotFound
        try:
            consultation, created = services.consultation_start_from_alert(alert_id=alert.pk, clinician=request.user)
        except services.ConsultationError:
            raise NotFound from None
        consultation = _consultation(request, consultation.pk)
        return Response(_detail(request, consultation), status=status.HTTP_201_CREATED if created else 200)


class ConsultationDetailApi(APIView):
    """The consultation with its messages, recommendations and clearances,
    and, for clinicians only, its notes."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, consultation_id: int) -> Response:
        return Response(_detail(request, _consultation(request, consultation_id)))


class TakeApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = _consultation(request, consultation_id)
        try:
            consultation = services.consultation_take(consultation_id=consultation.pk, clinician=request.user)
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(consultation_payload(consultation))


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=services.MAX_MESSAGE)
    ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class MessagesQuery(serializers.Serializer):
    after = IdField(required=False, help_text="only messages after this id")


class MessagesApi(APIView):
    """GET: the chat, oldest first (``after``: only messages after that id).
    POST: send a message (``ref``: the client's id for it, so that sending
    it again stores it once)."""

    @extend_schema(parameters=[MessagesQuery], responses={200: OBJECTS})
    def get(self, request: Request, consultation_id: int) -> Response:
        after = query_params(MessagesQuery, request).get("after")
        consultation = _consultation(request, consultation_id)
        messages = messages_of(consultation)
        if after is not None:
            messages = messages.filter(pk__gt=after)
        return Response([message_payload(m) for m in messages[:MESSAGES_PAGE]])

    # 201: stored; 200: the same ``ref`` was sent before, and this is that message.
    @extend_schema(request=MessageInput, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = _consultation(request, consultation_id)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message, created = services.message_send(
                consultation_id=consultation.pk,
                sender=request.user,
                body=data.validated_data["body"],
                client_ref=data.validated_data["ref"],
                language=translation.get_language(),
            )
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(message_payload(message), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MarkInput(serializers.Serializer):
    up_to = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)


class MarksApi(APIView):
    """POST …/messages/delivered/ or …/messages/read/: the other side's
    messages up to ``up_to`` (or all) reached or were read by the requester."""

    @extend_schema(operation_id="consultation_messages_mark", request=MarkInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, consultation_id: str, mark: str) -> Response:
        consultation = _consultation(request, consultation_id)
        data = MarkInput(data=request.data)
        data.is_valid(raise_exception=True)
        action = services.messages_mark_read if mark == "read" else services.messages_mark_delivered
        try:
            ids = action(consultation_id=consultation.pk, reader=request.user, up_to=data.validated_data["up_to"])
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response({"marked": ids})


class TextInput(serializers.Serializer):
    body = serializers.CharField(max_length=services.MAX_MESSAGE)


class RecommendationInput(TextInput):
    guide = serializers.ChoiceField(choices=guide_choices(), required=False, allow_blank=True, default="")


class NotesApi(APIView):
    """Clinician notes: clinicians of the worker's site only."""

    permission_classes = [IsClinician]

    def _clinician_consultation(self, request: Request, consultation_id: int) -> Consultation:
        consultation = _consultation(request, consultation_id, what="consultation notes")
        if side_of(request.user, consultation) is not Side.CLINICIAN:
            raise NotFound  # a clinician who is this consultation's worker
        return consultation

    @extend_schema(responses={200: OBJECTS})
    def get(self, request: Request, consultation_id: int) -> Response:
        consultation = self._clinician_consultation(request, consultation_id)
        return Response([note_payload(n) for n in notes_visible_to(request.user, consultation)])

    @extend_schema(request=TextInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = self._clinician_consultation(request, consultation_id)
        data = TextInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            note = services.note_add(consultation_id=consultation.pk, author=request.user, **data.validated_data)
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(note_payload(note), status=status.HTTP_201_CREATED)


class RecommendationsApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(request=RecommendationInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = _consultation(request, consultation_id)
        data = RecommendationInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            recommendation = services.recommendation_add(
                consultation_id=consultation.pk, author=request.user, **data.validated_data
            )
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(recommendation_payload(recommendation), status=status.HTTP_201_CREATED)


class CloseInput(serializers.Serializer):
    outcome = serializers.ChoiceField(Outcome.choices)


class CloseApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(request=CloseInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = _consultation(request, consultation_id)
        data = CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            consultation = services.consultation_close(
                consultation_id=consultation.pk, clinician=request.user, outcome=data.validated_data["outcome"]
            )
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(consultation_payload(consultation))


class ClearanceInput(serializers.Serializer):
    return_on = serializers.DateField()
    note = serializers.CharField(max_length=services.MAX_TEXT, required=False, allow_blank=True, default="")


class ClearancesApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(request=ClearanceInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, consultation_id: int) -> Response:
        consultation = _consultation(request, consultation_id)
        data = ClearanceInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            clearance = services.clearance_record(
                consultation_id=consultation.pk, clinician=request.user, **data.validated_data
            )
        except services.ConsultationError as exc:
            return _conflict(exc)
        return Response(clearance_payload(clearance), status=status.HTTP_201_CREATED)
