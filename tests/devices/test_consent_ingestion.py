"""Monitoring needs consent: a device of a worker without it is refused
(4403 / HTTP 403), withdrawing mid-stream closes the open connection with
4403, nothing more is stored or judged, and the record of both decisions stays."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from alerts.services import worker_evaluate
from devices.models import Reading
from tests.conftest import api_as
from tests.devices.wsclient import batch, communicator, connected, hr_series, iso, now_utc, send
from workers.models import Consent
from workers.services import consent_grant, consent_withdraw


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_withdrawal_mid_stream_closes_the_device_and_stops_ingestion(alice, alice_device):
    _, token = alice_device
    comm = await connected(token)
    assert (await send(comm, batch(1, hr_series(5))))["accepted"] == 5
    await database_sync_to_async(consent_withdraw)(worker=alice)
    assert (await comm.receive_output(timeout=3)) == {"type": "websocket.close", "code": 4403}
    await comm.disconnect()
    again = communicator(token)
    await again.connect()
    assert (await again.receive_output(timeout=3))["code"] == 4403
    await again.disconnect()
    count = await database_sync_to_async(Reading.objects.count)()
    assert count == 5
    decisions = await database_sync_to_async(
        lambda: list(Consent.objects.order_by("at", "id").values_list("decision", flat=True))
    )()
    assert decisions == ["granted", "withdrawn"]


@pytest.mark.django_db
def test_http_ingest_refuses_without_consent_and_accepts_after_granting(alice, alice_device, client):
    _, token = alice_device
    consent_withdraw(worker=alice)
    body = batch(1, [{"metric": "sos", "value": 1, "at": iso(now_utc())}])
    response = client.post(
        "/api/v1/ingest/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not Reading.objects.exists()
    consent_grant(worker=alice)
    response = client.post(
        "/api/v1/ingest/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1


@pytest.mark.django_db
def test_no_processing_and_no_checkins_without_consent(alice, alice_device):
    device, _ = alice_device
    from django.utils import timezone

    Reading.objects.create(
        device=device, worker=alice, metric="sos", value=1, measured_at=timezone.now(), received_at=timezone.now()
    )
    consent_withdraw(worker=alice)
    assert worker_evaluate(worker_id=alice.pk) == []
    response = api_as(alice.user).post("/api/v1/checkins/", {"temperature": 38.2}, format="json")
    assert response.status_code == 403
