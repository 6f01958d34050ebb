"""/metrics: who may read it, and that ingestion, sockets and alert pushes
are counted (healthhub.metrics)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import REGISTRY

from healthhub import health
from tests.devices.wsclient import batch, connected, hr_series, send


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_metrics_from_the_loopback_address_without_a_token(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    for name in (
        "healthhub_readings_stored_total",
        "healthhub_batches_stored_total",
        "healthhub_ack_latency_seconds_bucket",
        "healthhub_evaluation_lag_seconds_count",
        "healthhub_celery_queue_depth",
    ):
        assert name in body


@pytest.mark.django_db
def test_metrics_refused_from_another_address_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 403


@pytest.mark.django_db
def test_metrics_with_a_token_need_it_even_from_loopback(client, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", REMOTE_ADDR="10.0.0.7").status_code == 403
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="10.0.0.7")
    assert ok.status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_stored_batch_counts_readings_batches_an_ack_and_an_open_socket(alice_device):
    _, token = alice_device
    stored, batches = sample("healthhub_readings_stored_total"), sample("healthhub_batches_stored_total")
    acks = sample("healthhub_ack_latency_seconds_count")
    sockets = sample("healthhub_open_sockets", kind="devices")
    comm = await connected(token)
    assert sample("healthhub_open_sockets", kind="devices") == sockets + 1
    readings = hr_series(25)
    ack = await send(comm, batch(1, readings))
    assert ack["accepted"] == 25
    again = await send(comm, batch(2, readings))  # the same readings: duplicates, not stored
    assert again["duplicates"] == 25
    assert sample("healthhub_readings_stored_total") == stored + 25
    assert sample("healthhub_batches_stored_total") == batches + 2
    assert sample("healthhub_ack_latency_seconds_count") == acks + 2
    await comm.disconnect()
    assert sample("healthhub_open_sockets", kind="devices") == sockets


def test_queue_depth_per_queue_from_the_redis_broker(settings):
    url = os.environ.get("OPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis at " + url)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = url
    client.delete("celery", "urgent", "celery\x06\x163", "urgent\x06\x169")
    try:
        client.rpush("celery", "a", "b", "c")
        client.rpush("celery\x06\x163", "d")  # a message of a lower priority step
        client.rpush("urgent", "e")
        assert health.celery_queue_depths() == {"urgent": 1, "celery": 4}
    finally:
        client.delete("celery", "urgent", "celery\x06\x163")


@pytest.mark.asyncio
async def test_an_alert_reaching_a_page_records_its_delivery_latency():
    from alerts.consumers import AlertStreamConsumer

    consumer = AlertStreamConsumer()
    sent: list[str] = []

    async def fake_send(text_data: str) -> None:
        sent.append(text_data)

    async def no_access_log(**kwargs) -> None:
        # The push's access-log row is tested in tests/alerts/test_pushed_access_log.py.
        return None

    consumer.send = fake_send
    consumer.record_push = no_access_log
    count = sample("healthhub_alert_delivery_latency_seconds_count", change="opened")
    total = sample("healthhub_alert_delivery_latency_seconds_sum", change="opened")
    changed_at = datetime.now(UTC) - timedelta(seconds=3)
    await consumer.alert_changed(
        {"change": "opened", "alert": {"id": 1, "worker": 1, "updated_at": changed_at.isoformat()}}
    )
    assert len(sent) == 1
    assert sample("healthhub_alert_delivery_latency_seconds_count", change="opened") == count + 1
    assert 3 <= sample("healthhub_alert_delivery_latency_seconds_sum", change="opened") - total < 10


def test_a_push_the_channel_layer_refuses_is_counted_and_raised(monkeypatch):
    from healthhub import live

    class BrokenLayer:
        async def group_send(self, group: str, event: dict) -> None:
            raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", lambda: BrokenLayer())
    failures = sample("healthhub_push_failures_total", channel="channel_layer")
    with pytest.raises(ConnectionError):
        live.group_send_now("worker.1", {"type": "alert.changed"})
    assert sample("healthhub_push_failures_total", channel="channel_layer") == failures + 1


def test_a_process_without_http_serves_its_metrics_on_a_port_of_its_own():
    import urllib.request

    from tests.live import free_port

    port = free_port()
    health.serve_metrics(port)  # what a Celery worker does with METRICS_PORT
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    assert "healthhub_evaluation_lag_seconds_bucket" in body
