"""The optional "zone" of a batch (a gateway or beacon id): an SOS alert
carries the wearer's latest zone for the first responder; a malformed zone
is ignored and never costs the readings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase

from alerts.models import Alert, WorkerZone
from devices.models import Reading
from devices.protocol import parse_zone
from tests.devices.test_ingest_http import post
from tests.devices.wsclient import batch, iso, now_utc

pytestmark = pytest.mark.django_db


def sos_batch(seq, zone):
    body = batch(seq, [{"metric": "sos", "value": 1, "at": iso(now_utc() - timedelta(seconds=2))}])
    if zone is not None:
        body["zone"] = zone
    return body


def test_an_sos_alert_carries_the_zone_its_batch_reported(alice_device):
    _, token = alice_device
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert post(token, sos_batch(1, "gw-3F-east")).status_code == 200
    assert WorkerZone.objects.get().zone == "gw-3F-east"
    assert Alert.objects.get(kind="sos").zone == "gw-3F-east"
    # The worker moves: the open SOS follows.
    assert post(token, batch(2, [{"metric": "heart_rate", "value": 90, "at": iso(now_utc())}]) | {"zone": "gw-1F"})
    assert Alert.objects.get(kind="sos").zone == "gw-1F"


@pytest.mark.parametrize("zone", ["", "x" * 65, "gate 3", 42, ["gw-1"], None])
def test_a_malformed_or_missing_zone_is_ignored_and_the_readings_kept(alice_device, zone):
    _, token = alice_device
    response = post(token, sos_batch(1, zone))
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Reading.objects.filter(metric="sos").count() == 1
    assert not WorkerZone.objects.exists()


def test_zone_ids_are_short_plain_identifiers():
    assert parse_zone("beacon:0A1B-7") == "beacon:0A1B-7"
    assert parse_zone("3층") is None


def test_the_socket_path_records_the_zone_too(alice_device):
    from devices.protocol import Limits
    from devices.services import IncomingBatch, batches_receive

    device, _ = alice_device
    incoming = IncomingBatch(device_id=device.pk, worker_id=device.worker_id, message=sos_batch(7, "beacon-12"))
    received = batches_receive(batches=[incoming], limits=Limits.from_settings())
    assert received.results[0][0]["accepted"] == 1
    assert WorkerZone.objects.get(worker_id=device.worker_id).zone == "beacon-12"
