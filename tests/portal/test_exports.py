"""My data: the JSON and FHIR exports hold the worker's own data and nobody
else's, leave out what is for clinicians only, and stream."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from alerts.rules.base import Evaluation, Severity
from alerts.services import alert_acknowledge, alert_annotate, alert_apply, alert_escalate
from devices.models import Reading
from devices.services import device_provision
from portal import exports
from workers.services import access_log_record, checkin_submit, consent_withdraw


def store(device, metric: str, value: float, at: datetime) -> None:
    Reading.objects.create(
        device=device, worker=device.worker, metric=metric, value=value, measured_at=at, received_at=at
    )


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def alice_data(alice, bob, clara, now):
    device, _ = device_provision(serial="A-1", worker=alice)
    bobs, _ = device_provision(serial="B-1", worker=bob)
    store(device, "heart_rate", 88, now - timedelta(hours=1))
    store(device, "spo2", 96, now - timedelta(hours=1))
    store(device, "battery", 71, now - timedelta(hours=1))
    store(device, "heart_rate", 99, now - timedelta(days=40))  # outside the default 30 days
    store(bobs, "heart_rate", 123, now - timedelta(hours=1))
    checkin_submit(worker=alice, temperature=36.8, symptoms=["cough"])
    checkin_submit(worker=bob, temperature=39.1, symptoms=["fever"])
    alert = alert_apply(
        worker_id=alice.pk, evaluation=Evaluation.active("sos", Severity.CRITICAL, "SOS pressed"), now=now
    )
    alert_acknowledge(alert_id=alert.pk, by=clara, note="ack note for clinicians")
    alert_annotate(alert_id=alert.pk, by=clara, note="private clinical note")
    alert_escalate(alert_id=alert.pk, by=clara)
    access_log_record(accessor=clara, worker=alice, what="readings", reason="SOS follow-up")
    access_log_record(accessor=clara, worker=bob, what="readings", reason="about bob")
    return alert


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def get_json(client, user, **params):
    client.force_login(user)
    response = client.get(reverse("portal:export-json"), params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    return json.loads(body(response))


def get_fhir(client, user, **params) -> tuple[dict, Bundle]:
    client.force_login(user)
    response = client.get(reverse("portal:export-fhir"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    raw = body(response)
    return json.loads(raw), Bundle.model_validate_json(raw)


# --- JSON ----------------------------------------------------------------------


def test_json_export_holds_my_profile_consents_checkins_alerts_and_access_log(client, alice, alice_data):
    data = get_json(client, alice.user)
    assert data["format"] == "healthhub-export"
    assert data["profile"]["employee_number"] == alice.employee_number
    assert data["profile"]["devices"][0]["serial"] == "A-1"
    assert [c["decision"] for c in data["consents"]] == ["granted"]
    assert [(c["temperature"], c["symptoms"]) for c in data["checkins"]] == [(36.8, ["cough"])]
    [alert] = data["alerts"]
    assert (alert["kind"], alert["severity"], alert["advice"]) == ("sos", "critical", "SOS pressed")
    assert [e["action"] for e in alert["events"]] == ["opened", "step", "acknowledged", "escalated"]
    assert [(e["what"], e["reason"], e["role"]) for e in data["access_log"]] == [
        ("readings", "SOS follow-up", "clinician")
    ]


def test_json_export_has_the_readings_of_the_last_30_days_by_default(client, alice, alice_data, now):
    data = get_json(client, alice.user)
    readings = {(r["metric"], r["value"]) for r in data["readings"]}
    assert readings == {("heart_rate", 88), ("spo2", 96), ("battery", 71)}
    first = next(r for r in data["readings"] if r["metric"] == "heart_rate")
    assert datetime.fromisoformat(first["at"].replace("Z", "+00:00")) == now - timedelta(hours=1)
    assert first["device"] == "A-1"
    assert data["metrics"]["heart_rate"] == {"unit": "beats/min", "loinc": "8867-4", "event": False}


def test_json_export_period_can_be_chosen(client, alice, alice_data, now):
    day = (now - timedelta(days=40)).astimezone(timezone.get_current_timezone()).date()
    data = get_json(client, alice.user, start=day.isoformat(), end=day.isoformat())
    assert [(r["metric"], r["value"]) for r in data["readings"]] == [("heart_rate", 99)]


def test_json_export_holds_nobody_elses_data(client, alice, bob, alice_data):
    data = get_json(client, alice.user)
    assert {r["device"] for r in data["readings"]} == {"A-1"}
    assert 123 not in {r["value"] for r in data["readings"]}
    assert [c["temperature"] for c in data["checkins"]] == [36.8]
    assert "about bob" not in {e["reason"] for e in data["access_log"]}
    raw = json.dumps(data)
    assert "B-1" not in raw and bob.employee_number not in raw and bob.user.username not in raw


def test_json_export_leaves_out_what_is_for_clinicians_only(client, alice, alice_data, clara):
    raw = json.dumps(get_json(client, alice.user))
    assert "private clinical note" not in raw
    assert "ack note for clinicians" not in raw
    assert clara.username not in raw.replace('"by": "clinician"', "")  # whom the escalation went to


def test_json_export_is_the_requesters_own_even_for_a_colleague(client, bob, alice_data):
    data = get_json(client, bob.user)
    assert data["profile"]["employee_number"] == bob.employee_number
    assert {r["value"] for r in data["readings"]} == {123}
    assert data["alerts"] == []


@pytest.mark.parametrize("url", ["portal:export-json", "portal:export-fhir", "portal:data"])
@pytest.mark.parametrize("who", ["hana", "adam", "clara"])
def test_exports_give_staff_nothing(client, alice_data, hana, adam, clara, url, who):
    client.force_login({"hana": hana, "adam": adam, "clara": clara}[who])
    response = client.get(reverse(url))
    assert response.status_code == 302 and response["Location"] == reverse("desk:home")
    assert not getattr(response, "streaming", False)


def test_exports_send_anonymous_to_login(client, alice_data):
    response = client.get(reverse("portal:export-json"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_upside_down_period_is_400_before_anything_is_streamed(client, alice, alice_data):
    # Bad input is a 4xx naming the problem (issue 8), not a silent fallback.
    client.force_login(alice.user)
    response = client.get(
        reverse("portal:export-json"), {"start": "2026-02-01", "end": "2026-01-01"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert "The start must not be after the end." in response.content.decode()
    assert not getattr(response, "streaming", False)


def test_withdrawn_consent_does_not_hide_my_own_data_from_me(client, alice, alice_data):
    consent_withdraw(worker=alice)
    data = get_json(client, alice.user)
    assert [c["decision"] for c in data["consents"]] == ["granted", "withdrawn"]
    assert len(data["readings"]) == 3


# --- FHIR ----------------------------------------------------------------------


def test_fhir_export_is_a_valid_r4_collection_bundle_of_observations(client, alice, alice_data):
    raw, bundle = get_fhir(client, alice.user)
    assert bundle.type == "collection"
    assert raw["resourceType"] == "Bundle"
    assert {entry.resource.get_resource_type() for entry in bundle.entry} == {"Observation"}
    assert len(bundle.entry) == 3
    assert len({entry.fullUrl for entry in bundle.entry}) == 3


def test_fhir_observations_carry_loinc_codes_ucum_values_and_times(client, alice, alice_data, now):
    _, bundle = get_fhir(client, alice.user)
    by_metric = {}
    for entry in bundle.entry:
        obs = entry.resource
        local = next(c.code for c in obs.code.coding if c.system == exports.METRIC_SYSTEM)
        by_metric[local] = obs
    heart = by_metric["heart_rate"]
    assert (heart.code.coding[0].system, heart.code.coding[0].code) == ("http://loinc.org", "8867-4")
    assert float(heart.valueQuantity.value) == 88
    assert (heart.valueQuantity.system, heart.valueQuantity.code) == ("http://unitsofmeasure.org", "/min")
    assert heart.effectiveDateTime == now - timedelta(hours=1)
    assert heart.subject.identifier.value == alice.employee_number
    assert heart.status == "final"
    spo2 = by_metric["spo2"]
    assert spo2.code.coding[0].code == "59408-5"
    assert (float(spo2.valueQuantity.value), spo2.valueQuantity.code) == (96, "%")


def test_fhir_metrics_without_loinc_use_the_local_code_system(client, alice, alice_data):
    _, bundle = get_fhir(client, alice.user)
    [battery] = [e.resource for e in bundle.entry if e.resource.code.text == "battery"]
    assert [(c.system, c.code) for c in battery.code.coding] == [(exports.METRIC_SYSTEM, "battery")]
    assert battery.valueQuantity.code == "%"


def test_fhir_export_holds_nobody_elses_readings(client, alice, bob, alice_data):
    raw, bundle = get_fhir(client, alice.user)
    assert {float(e.resource.valueQuantity.value) for e in bundle.entry} == {88, 96, 71}
    assert {e.resource.subject.identifier.value for e in bundle.entry} == {alice.employee_number}
    text = json.dumps(raw)
    assert "B-1" not in text and bob.employee_number not in text


def test_fhir_export_of_an_empty_period_has_no_entry_at_all(client, alice, alice_data):
    raw, bundle = get_fhir(client, alice.user, start="2020-01-01", end="2020-01-02")
    assert "entry" not in raw
    assert bundle.entry is None


def test_a_reading_keeps_its_fullurl_from_one_export_to_the_next(client, alice, alice_data):
    first, _ = get_fhir(client, alice.user)
    second, _ = get_fhir(client, alice.user)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert first["identifier"] != second["identifier"]  # each bundle is its own


# --- Streaming ---------------------------------------------------------------------


@pytest.fixture
def a_day_of_readings(alice):
    device, _ = device_provision(serial="A-9", worker=alice)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    Reading.objects.bulk_create(
        Reading(
            device=device,
            worker=alice,
            metric=metric,
            value=60 + i % 40,
            measured_at=start + timedelta(seconds=10 * i),
            received_at=start,
        )
        for i in range(3000)
        for metric in ("heart_rate", "spo2")
    )
    return 6000


@pytest.mark.parametrize("url", ["portal:export-json", "portal:export-fhir"])
def test_large_exports_arrive_in_many_chunks(client, alice, a_day_of_readings, url):
    client.force_login(alice.user)
    response = client.get(reverse(url))
    chunks = list(response.streaming_content)
    assert len(chunks) > 5
    # Memory is bounded by one batch of rows, whatever the period.
    assert max(len(chunk) for chunk in chunks) < exports.CHUNK_BYTES + exports.ROWS_PER_ENCODE * 1000
    parsed = json.loads(b"".join(chunks))
    assert len(parsed.get("readings") or parsed.get("entry")) == a_day_of_readings


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_streams_without_reading_it_all_first(alice, a_day_of_readings):
    client = AsyncClient()
    await client.aforce_login(alice.user)
    with warnings.catch_warnings():
        # Django warns when it must read a synchronous iterator to the end
        # before serving it asynchronously: that must not happen here.
        warnings.filterwarnings("error", message="StreamingHttpResponse must consume")
        response = await client.get(reverse("portal:export-json"))
        assert response.status_code == 200
        assert response.is_async
        chunks = [chunk async for chunk in response.streaming_content]
    # The view and the stream ran in asgiref's worker thread: close its
    # database connection as a server's request_finished would.
    await sync_to_async(connections.close_all)()
    assert len(chunks) > 5
    assert len(json.loads(b"".join(chunks))["readings"]) == a_day_of_readings
