"""/healthz, /readyz and the heartbeat behind them (healthhub.health)."""

from __future__ import annotations

import time

import pytest
from celery.signals import before_task_publish
from django.core.cache import cache
from django.db import DatabaseError

from healthhub import health
from healthhub.celery import heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_heartbeats():
    cache.delete_many([health.BEAT_KEY, health.WORKER_KEY])
    yield
    cache.delete_many([health.BEAT_KEY, health.WORKER_KEY])


@pytest.fixture
def with_broker(settings):
    """The production topology's Celery (a broker, no eager tasks), without a
    Redis to check: the heartbeat checks apply, the Redis check does not."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = ""
    return settings


def test_healthz_answers_on_any_host_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")  # not one of ALLOWED_HOSTS
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_health_routes_take_only_get_and_head(client):
    assert client.post("/healthz").status_code == 405
    assert client.head("/readyz").status_code == 200


def test_readyz_in_the_embedded_default_checks_the_database_only(client, settings):
    settings.REDIS_URL, settings.CELERY_TASK_ALWAYS_EAGER = "", True  # as with no REDIS_URL
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "redis": "not used", "celery": "not used", "beat": "not used"},
    }


def test_readyz_fails_with_the_database(client, monkeypatch):
    def down() -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health, "_check_database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "failing: connection refused"


def test_readyz_needs_a_worker_and_beat_heartbeat_with_a_broker(client, with_broker):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["celery"] == "failing: no worker heartbeat yet"
    assert checks["beat"] == "failing: no beat heartbeat yet"

    before_task_publish.send(sender="healthhub.heartbeat")  # beat publishes it...
    heartbeat.apply()  # ...and a worker runs it
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "redis": "not used", "celery": "ok", "beat": "ok"}


def test_a_stale_heartbeat_fails_readiness(client, with_broker):
    with_broker.HEARTBEAT_STALE_S = 120
    cache.set(health.BEAT_KEY, time.time())
    cache.set(health.WORKER_KEY, time.time() - 100)
    assert client.get("/readyz").status_code == 200
    cache.set(health.WORKER_KEY, time.time() - 125)
    response = client.get("/readyz")
    assert response.status_code == 503
    verdict = response.json()["checks"]["celery"]
    assert verdict.startswith("failing: last worker heartbeat 12") and verdict.endswith(" s ago")
    assert response.json()["checks"]["beat"] == "ok"


def test_publishing_another_task_is_no_beat_heartbeat():
    before_task_publish.send(sender="alerts.tasks.escalate_overdue")
    assert cache.get(health.BEAT_KEY) is None


def test_the_heartbeat_goes_to_the_urgent_queue(settings):
    assert settings.CELERY_TASK_ROUTES["healthhub.heartbeat"] == {"queue": "urgent"}
    assert settings.CELERY_BEAT_SCHEDULE["healthhub-heartbeat"]["schedule"] == health.HEARTBEAT_INTERVAL_S


@pytest.mark.parametrize(("age", "code"), [(None, 1), (5, 0), (500, 1)])
def test_the_container_check_of_beat_and_worker(age, code):
    if age is not None:
        cache.set(health.BEAT_KEY, time.time() - age)
        cache.set(health.WORKER_KEY, time.time() - age)
    assert health.main(["health", "beat"]) == code
    assert health.main(["health", "worker"]) == code


def test_the_container_check_of_web_fails_with_nothing_listening(monkeypatch):
    from tests.live import free_port

    monkeypatch.setenv("PORT", str(free_port()))
    assert health.main(["health", "web"]) == 1
