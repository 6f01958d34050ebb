"""The wearable is not a side channel (issue 8, item 5): alert frames carry
codes only; linking, re-linking, re-keying and revoking a wearable are told
to its worker; the clinicians' page marks the readings of a wearable linked
less than DEVICE_NEW_LINK_HOURS ago. Also the 2026-11-28 metric codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from devices import protocol
from devices.models import Reading
from devices.selectors import devices_newly_linked
from devices.services import device_assign, device_provision, device_revoke, device_token_rotate
from portal import exports
from workers.models import WorkerEvent

pytestmark = pytest.mark.django_db


# -- the 2026-11-28 protocol change -------------------------------------------------------------


def test_rmssd_has_no_loinc_code_and_sdnn_has_80404_7():
    assert protocol.METRICS["hrv_rmssd"].loinc is None
    assert protocol.METRICS["hrv_sdnn"].loinc == "80404-7"


def test_an_sdnn_reading_is_accepted():
    now = timezone.now()
    batch = protocol.parse_batch(
        {"type": "readings", "seq": 1, "readings": [{"metric": "hrv_sdnn", "value": 42.5, "at": now.isoformat()}]},
        now,
        protocol.Limits(500, 256 * 1024, timedelta(minutes=5), timedelta(days=7)),
    )
    assert [(r.metric, r.value) for r in batch.valid] == [("hrv_sdnn", 42.5)] and batch.rejected == []


def test_the_fhir_export_codes_sdnn_with_loinc_and_rmssd_with_the_local_system_only(alice):
    rmssd = exports._observation_template("hrv_rmssd", alice)["code"]["coding"]
    sdnn = exports._observation_template("hrv_sdnn", alice)["code"]["coding"]
    assert [(c["system"], c["code"]) for c in rmssd] == [(exports.METRIC_SYSTEM, "hrv_rmssd")]
    assert [(c["system"], c["code"]) for c in sdnn] == [(exports.LOINC, "80404-7"), (exports.METRIC_SYSTEM, "hrv_sdnn")]


def test_every_kind_has_an_action_of_the_closed_set():
    from alerts.models import AlertKind, Severity

    for kind in AlertKind.values:
        for severity in Severity.values:
            assert protocol.alert_action(kind, severity) in protocol.ACTIONS
    assert set(protocol.LEGACY_MESSAGE) == set(protocol.ACTIONS)


def test_an_alert_frame_refuses_anything_but_an_action_code():
    with pytest.raises(ValueError):
        protocol.alert_message("1", "fever", "warning", "Fever 39.2 °C", "")


# -- the worker hears of every change ---------------------------------------------------------


def events(worker) -> list[tuple[str, str, str | None]]:
    return [
        (e.kind, e.detail, e.by.username if e.by else None)
        for e in WorkerEvent.objects.filter(worker=worker).order_by("id")
    ]


def test_provisioning_re_linking_re_keying_and_revoking_are_told(alice, bob, adam):
    device, _ = device_provision(serial="X-9", worker=alice, by=adam)
    device_token_rotate(device=device, by=adam)
    device_assign(device=device, worker=bob, by=adam)
    device_revoke(device=device)
    assert events(alice) == [
        ("device_linked", "X-9", "adam"),
        ("device_new_token", "X-9", "adam"),
        ("device_unlinked", "X-9", "adam"),
    ]
    assert events(bob) == [("device_linked", "X-9", "adam"), ("device_revoked", "X-9", None)]


def test_an_unassigned_device_tells_nobody(alice, adam):
    device, _ = device_provision(serial="X-10", by=adam)
    device_assign(device=device, worker=None, by=adam)
    assert not WorkerEvent.objects.exists()


def test_the_api_records_who_provisioned(alice, adam):
    from tests.conftest import api_as

    response = api_as(adam).post(
        "/api/v1/devices/", {"serial": "X-11", "employee_number": alice.employee_number}, format="json"
    )
    assert response.status_code == 201, response.content
    assert events(alice) == [("device_linked", "X-11", "adam")]


def test_the_worker_sees_it_on_their_privacy_page(client, alice, adam):
    device_provision(serial="X-12", worker=alice, by=adam)
    client.force_login(alice.user)
    page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A new wearable was linked to you" in page and "X-12" in page


# -- the clinician sees which readings come from a newly linked wearable ----------------------------


def reading(device, worker, value: float) -> None:
    now = timezone.now()
    Reading.objects.create(
        device=device, worker=worker, metric="heart_rate", value=value, measured_at=now, received_at=now
    )


def test_readings_of_a_newly_linked_wearable_are_marked(client, alice, clara, adam):
    device, _ = device_provision(serial="X-13", worker=alice, by=adam)
    reading(device, alice, 77)
    client.force_login(clara)
    page = client.get(reverse("desk:worker-detail", args=[alice.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="new-device"' in page and page.count("new wearable") >= 2  # the tile and the device


def test_after_the_window_they_are_not(client, settings, alice, clara, alice_device):
    device, _ = alice_device
    assert devices_newly_linked(alice, timezone.now()) == {device.pk: WorkerEvent.objects.get().at}
    assert devices_newly_linked(alice, timezone.now() + timedelta(hours=24, minutes=1)) == {}
    settings.DEVICE_NEW_LINK_HOURS = 0
    reading(device, alice, 77)
    client.force_login(clara)
    page = client.get(reverse("desk:worker-detail", args=[alice.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="new-device"' not in page and "new wearable" not in page
