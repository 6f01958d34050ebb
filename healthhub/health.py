"""Liveness, readiness and metrics for operators and orchestrators.

- ``/healthz``: the process answers (no database, nothing else): restart it
  when this fails.
- ``/readyz``: what the service needs is there: the database, Redis (when
  configured), a Celery worker that ran the heartbeat task lately, and a
  beat that sent it lately. 200 with every check, or 503 naming the ones
  that failed.
- ``/metrics``: Prometheus text (``healthhub.metrics``), for a scraper that
  presents ``Authorization: Bearer $METRICS_TOKEN``; without a token
  configured, only for requests from the loopback address.

They are answered by a middleware at the top of the stack, before the host
check, sessions and the second-factor gate: a container's health check
calls 127.0.0.1, which is not one of the public ALLOWED_HOSTS, and none of
them touches a user's data. This module belongs to the composition root.

``python -m healthhub.health web|worker|beat`` is the same check for the
image's HEALTHCHECK and compose's per-service checks.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from healthhub.env import env_str

# Written by the heartbeat task (healthhub.celery): when beat last sent it
# and when a worker last ran it (epoch seconds).
BEAT_KEY = "healthhub:heartbeat:beat"
WORKER_KEY = "healthhub:heartbeat:worker"
HEARTBEAT_INTERVAL_S = 30.0
# Queues whose depth /metrics reports (every worker consumes both).
QUEUES = ("urgent", "celery")
# kombu's Redis transport keeps one list per priority step of a queue.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


def heartbeat_stale_after() -> float:
    return float(getattr(settings, "HEARTBEAT_STALE_S", 4 * HEARTBEAT_INTERVAL_S))


# --- readiness ---------------------------------------------------------------


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_client() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _check_redis() -> None:
    client = _redis_client()
    try:
        client.ping()
    finally:
        client.close()


def _fresh(key: str, what: str) -> Callable[[], None]:
    def check() -> None:
        at = cache.get(key)
        if at is None:
            raise RuntimeError(f"no {what} heartbeat yet")
        age = time.time() - float(at)
        if age > heartbeat_stale_after():
            raise RuntimeError(f"last {what} heartbeat {age:.0f} s ago")

    return check


def readiness_checks() -> dict[str, Callable[[], None] | None]:
    """The checks for this configuration; None marks one that does not
    apply (Celery and beat run inside the server in the embedded default)."""
    with_broker = not settings.CELERY_TASK_ALWAYS_EAGER
    return {
        "database": _check_database,
        "redis": _check_redis if settings.REDIS_URL else None,
        "celery": _fresh(WORKER_KEY, "worker") if with_broker else None,
        "beat": _fresh(BEAT_KEY, "beat") if with_broker else None,
    }


def readiness() -> tuple[bool, dict[str, str]]:
    """Run every check; (all passed, a short verdict per check)."""
    results: dict[str, str] = {}
    ready = True
    for name, check in readiness_checks().items():
        if check is None:
            results[name] = "not used"
            continue
        try:
            check()
        except Exception as exc:  # any failure of a dependency is a verdict, not a 500
            ready = False
            results[name] = f"failing: {exc}"
        else:
            results[name] = "ok"
    return ready, results


# --- metrics -------------------------------------------------------------------


def celery_queue_depths() -> dict[str, int]:
    """Messages waiting per Celery queue on the Redis broker (empty without one)."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return {}
    client = _redis_client()
    try:
        pipe = client.pipeline()
        for queue in QUEUES:
            for step in _PRIORITY_STEPS:
                pipe.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEPARATOR}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    steps = len(_PRIORITY_STEPS)
    return {queue: sum(lengths[i * steps : (i + 1) * steps]) for i, queue in enumerate(QUEUES)}


class QueueDepthCollector:
    """Celery queue depth, read from the broker at scrape time."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "healthhub_celery_queue_depth", "Celery messages waiting, by queue.", labels=["queue"]
        )
        try:
            depths = celery_queue_depths()
        except Exception:
            depths = {}  # the broker is down: /readyz says so; the scrape still succeeds
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family


def metrics_text() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    import healthhub.metrics  # noqa: F401  (defines the metrics in this process)

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded)
    else:
        recorded = REGISTRY
    read_now = CollectorRegistry()
    read_now.register(QueueDepthCollector())
    return generate_latest(recorded) + generate_latest(read_now), CONTENT_TYPE_LATEST


def serve_metrics(port: int) -> None:
    """This process's metrics (all of the host's with multiprocess mode) on
    their own port, for a process without HTTP of its own (a Celery worker)."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    import healthhub.metrics  # noqa: F401

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)


def metrics_allowed(request: HttpRequest) -> bool:
    token = env_str("METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


# --- the middleware ----------------------------------------------------------------


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


def readyz(request: HttpRequest) -> HttpResponse:
    ready, checks = readiness()
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)


ROUTES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,
}


class HealthMiddleware:
    """First in MIDDLEWARE: answers the three operator routes itself (GET
    or HEAD only) and passes everything else on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ROUTES.get(request.path_info.rstrip("/") or "/")
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        return view(request)


# --- container health checks ----------------------------------------------------------


def main(argv: list[str]) -> int:
    """``web``: /healthz answers on this host; ``worker`` and ``beat``: their
    heartbeat is fresh. Exit 0 when healthy, 1 otherwise (Docker's rule)."""
    role = argv[1] if len(argv) > 1 else "web"
    if role == "web":
        import urllib.request

        port = os.environ.get("PORT", "8000")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(exc, file=sys.stderr)
            return 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthhub.settings")
    import django

    django.setup()
    key = {"worker": WORKER_KEY, "beat": BEAT_KEY}[role]
    try:
        _fresh(key, role)()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
