"""Everything about a worker, for the worker: a JSON document and a FHIR R4
Bundle of Observations.

Both are generators of bytes, written incrementally while the database is
read with server-side cursors (``iterator()``), so that 90 days of readings
(hundreds of thousands of rows) are never held in memory at once. The caller
has already established that the requester is the worker themself.

fhir.resources is used here, at the export boundary, and nowhere else: it
builds and validates the Bundle envelope and one Observation per metric,
which every reading of that metric then fills in (validating each of
300,000 readings with pydantic would take minutes; the shape is the same).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from django.db.models import Prefetch

from alerts.models import Alert, AlertEvent
from alerts.selectors import WORKER_EVENT_DETAIL
from devices.models import Device, Reading
from devices.protocol import METRICS
from workers.models import Worker
from workers.names import person_name
from workers.selectors import access_log_about, consent_history

FORMAT_VERSION = 1
CHUNK_BYTES = 64 * 1024
# Rows fetched per round trip of the server-side cursor, and rows encoded at
# once (a FHIR entry is some 650 bytes: 500 of them make a 300 KB chunk).
FETCH_ROWS = 2000
ROWS_PER_ENCODE = 500

# A code system of this programme for what LOINC has no code for. A
# placeholder under a reserved domain until the programme has a canonical URL.
LOCAL_SYSTEM = "https://healthhub.invalid/fhir"
METRIC_SYSTEM = f"{LOCAL_SYSTEM}/CodeSystem/device-metric"
EMPLOYEE_SYSTEM = f"{LOCAL_SYSTEM}/NamingSystem/employee-number"
DEVICE_SYSTEM = f"{LOCAL_SYSTEM}/NamingSystem/device-serial"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"

# The LOINC displays of docs/device-protocol.md's codes.
LOINC_DISPLAY = {
    "8867-4": "Heart rate",
    "59408-5": "Oxygen saturation in Arterial blood by Pulse oximetry",
    "39106-0": "Temperature of Skin",
    "8329-5": "Body temperature - Core",
    "9279-1": "Respiratory rate",
    "80404-7": "R-R interval.standard deviation (Heart rate variability)",
    "55423-8": "Number of steps in unspecified time Pedometer",
}
# (human unit, UCUM code) per metric.
UCUM_UNITS = {
    "heart_rate": ("beats/minute", "/min"),
    "spo2": ("%", "%"),
    "skin_temp": ("°C", "Cel"),
    "core_temp": ("°C", "Cel"),
    "resp_rate": ("breaths/minute", "/min"),
    "hrv_rmssd": ("ms", "ms"),
    "hrv_sdnn": ("ms", "ms"),
    "steps": ("steps", "{steps}"),
    "ambient_temp": ("°C", "Cel"),
    "ambient_humidity": ("%", "%"),
    "fall": ("event", "{event}"),
    "sos": ("event", "{event}"),
    "battery": ("%", "%"),
}
CATEGORY = {
    "heart_rate": "vital-signs",
    "spo2": "vital-signs",
    "skin_temp": "vital-signs",
    "core_temp": "vital-signs",
    "resp_rate": "vital-signs",
    "hrv_rmssd": "vital-signs",
    "hrv_sdnn": "vital-signs",
    "steps": "activity",
}
# A reading's identity is (device, metric, time): its entry's fullUrl is a
# name-based UUID of it, the same in every export.
READING_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{LOCAL_SYSTEM}/reading")

_dumps_options = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=_dumps_options)


def _buffered(pieces: Iterable[bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Join small pieces into chunks of about ``size`` bytes."""
    buffer: list[bytes] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)


def _array(items: Iterable[Any], encode_many=None) -> Iterator[bytes]:
    """A JSON array written ``ROWS_PER_ENCODE`` items at a time."""
    yield b"["
    first = True
    batch: list[Any] = []

    def flush() -> bytes:
        body = _dumps(batch)[1:-1]
        return body if first else b"," + body

    for item in items:
        batch.append(item)
        if len(batch) >= ROWS_PER_ENCODE:
            yield flush()
            first, batch = False, []
    if batch:
        yield flush()
    yield b"]"


class _DeviceSerials(dict):
    """Device id -> serial, looked up the first time each id is met."""

    def __missing__(self, device_id: int) -> str | None:
        serial = Device.objects.filter(pk=device_id).values_list("serial", flat=True).first()
        self[device_id] = serial
        return serial


def _readings(worker: Worker, start: datetime, end: datetime) -> Iterator[tuple[int, str, float, datetime]]:
    # Ordered as the (worker, metric, measured_at) index is, so that the
    # database streams rows without sorting them first.
    return (
        Reading.objects.filter(worker=worker, measured_at__gte=start, measured_at__lt=end)
        .order_by("metric", "measured_at")
        .values_list("device_id", "metric", "value", "measured_at")
        .iterator(chunk_size=FETCH_ROWS)
    )


# --- JSON --------------------------------------------------------------------


def _profile(worker: Worker) -> dict:
    user = worker.user
    return {
        "employee_number": worker.employee_number,
        "name": person_name(user),
        "username": user.get_username(),
        "site": {"code": worker.site.code, "name": worker.site.name, "time_zone": worker.site.timezone},
        "department": worker.department.name,
        "shift_pattern": worker.shift_pattern,
        "birth_year": worker.birth_year,
        "acclimatized": worker.acclimatized,
        "devices": [
            {
                "serial": d.serial,
                "model": d.model,
                "status": d.status,
                "last_seen_at": d.last_seen_at,
                "battery": d.battery,
            }
            for d in worker.devices.order_by("serial")
        ],
    }


# What an alert's history may tell the worker (alerts.selectors.alert_events_for):
# clinicians' notes only where their author shared them; whom an escalation
# went to is for clinicians only.


def _alerts(worker: Worker, labels: dict[str, dict[str, str]]) -> Iterator[dict]:
    events = AlertEvent.objects.exclude(action=AlertEvent.Action.NOTE, shared_with_worker=False).order_by("at", "id")
    alerts = (
        Alert.objects.filter(worker=worker)
        .order_by("opened_at", "id")
        .prefetch_related(Prefetch("events", queryset=events))
        .iterator(chunk_size=500)
    )
    for alert in alerts:
        yield {
            "id": alert.pk,
            "kind": alert.kind,
            "kind_label": labels["kind"].get(alert.kind, alert.kind),
            "severity": alert.severity,
            "status": alert.status,
            "message": alert.message,
            "advice": labels["message"].get(alert.message, alert.message),
            "evidence": alert.evidence,
            "opened_at": alert.opened_at,
            "updated_at": alert.updated_at,
            "acknowledged_at": alert.acknowledged_at,
            "resolved_at": alert.resolved_at,
            "escalated_at": alert.escalated_at,
            "auto_resolved": alert.auto_resolved,
            "events": [
                {
                    "at": event.at,
                    "action": event.action,
                    "by": "clinician" if event.by_id else "system",
                    **{key: event.detail[key] for key in WORKER_EVENT_DETAIL if key in event.detail},
                    **({"note": event.detail["note"]} if event.shared_with_worker and event.detail.get("note") else {}),
                }
                for event in alert.events.all()
            ],
        }


def json_export(
    worker: Worker, *, start: datetime, end: datetime, now: datetime, labels: dict[str, dict[str, str]]
) -> Iterator[bytes]:
    """The worker's data as one JSON object: profile, consents, check-ins,
    alerts with their history (nothing clinician-only), the access log
    about them, and their readings in [start, end) (last, and streamed).
    ``labels`` are alert_labels() in the worker's language."""

    def pieces() -> Iterator[bytes]:
        head = {
            "format": "healthhub-export",
            "version": FORMAT_VERSION,
            "generated_at": now,
            "readings_period": {"from": start, "to": end},
            "profile": _profile(worker),
            "metrics": {
                name: {"unit": metric.unit, "loinc": metric.loinc, "event": metric.event}
                for name, metric in METRICS.items()
            },
        }
        yield _dumps(head)[:-1]
        yield b',"consents":'
        yield from _array(
            {"decision": c.decision, "at": c.at, "text_version": c.text.version}
            for c in consent_history(worker).reverse().iterator(chunk_size=500)
        )
        yield b',"checkins":'
        yield from _array(
            {"day": c.day, "temperature": c.temperature, "symptoms": c.symptoms, "submitted_at": c.submitted_at}
            for c in worker.checkins.order_by("day").iterator(chunk_size=500)
        )
        yield b',"alerts":'
        yield from _array(_alerts(worker, labels))
        yield b',"access_log":'
        yield from _array(
            {
                "at": entry.at,
                "by": person_name(entry.accessor),
                "role": _role(entry.accessor),
                "what": entry.what,
                "reason": entry.reason,
            }
            for entry in access_log_about(worker).reverse().iterator(chunk_size=500)
        )
        yield b',"readings":'
        serials = _DeviceSerials()
        yield from _array(
            {"metric": metric, "value": value, "at": at, "device": serials[device_id]}
            for device_id, metric, value, at in _readings(worker, start, end)
        )
        yield b"}"

    return _buffered(pieces())


def _role(user) -> str | None:
    profile = getattr(user, "staff_profile", None)
    return profile.role if profile is not None else None


# --- FHIR R4 -------------------------------------------------------------------


def _observation_template(metric: str, worker: Worker) -> dict:
    """A validated Observation for ``metric`` with a placeholder time and
    value, as a plain dict."""
    from fhir.resources.R4B.observation import Observation

    spec = METRICS[metric]
    coding = []
    if spec.loinc:
        coding.append({"system": LOINC, "code": spec.loinc, "display": LOINC_DISPLAY[spec.loinc]})
    coding.append({"system": METRIC_SYSTEM, "code": metric})
    unit, code = UCUM_UNITS[metric]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": coding, "text": metric},
        "subject": {
            "identifier": {"system": EMPLOYEE_SYSTEM, "value": worker.employee_number},
            "display": person_name(worker.user),
        },
        "effectiveDateTime": "2000-01-01T00:00:00Z",
        "valueQuantity": {"value": 0, "unit": unit, "system": UCUM, "code": code},
    }
    if metric in CATEGORY:
        resource["category"] = [{"coding": [{"system": CATEGORY_SYSTEM, "code": CATEGORY[metric]}]}]
    return Observation.model_validate(resource).model_dump(mode="json")


def fhir_export(worker: Worker, *, start: datetime, end: datetime, now: datetime) -> Iterator[bytes]:
    """The worker's readings in [start, end) as a FHIR R4 Bundle of type
    "collection": one Observation per reading, coded with LOINC where
    docs/device-protocol.md gives a code (and always with this programme's
    own metric code), its time as effectiveDateTime and its value as a
    valueQuantity in UCUM units."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": now.isoformat(),
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        }
    )
    templates: dict[str, dict] = {}
    serials = _DeviceSerials()

    def entry(device_id: int, metric: str, value: float, at: datetime) -> dict:
        template = templates.get(metric)
        if template is None:
            template = templates[metric] = _observation_template(metric, worker)
        resource = {
            **template,
            "effectiveDateTime": at,
            "valueQuantity": {**template["valueQuantity"], "value": value},
        }
        serial = serials[device_id]
        if serial:
            resource["device"] = {"identifier": {"system": DEVICE_SYSTEM, "value": serial}, "display": serial}
        identity = f"{device_id}/{metric}/{at.isoformat()}"
        return {"fullUrl": f"urn:uuid:{uuid.uuid5(READING_NAMESPACE, identity)}", "resource": resource}

    def pieces() -> Iterator[bytes]:
        yield bundle.model_dump_json().encode()[:-1]
        entries = _array(entry(*row) for row in _readings(worker, start, end))
        opening = next(entries)
        body = next(entries)
        # FHIR allows no empty arrays: without readings there is no "entry".
        if body != b"]":
            yield b',"entry":' + opening + body
            yield from entries
        yield b"}"

    return _buffered(pieces())
