"""Every Prometheus metric healthhub exports, defined once (a leaf helper:
it imports no app, so any app may record into it).

Per process or across processes: when ``PROMETHEUS_MULTIPROC_DIR`` names a
writable directory before the process starts (the image sets it), every
process of a host (uvicorn's workers, Celery's pool) writes its values there
and ``/metrics`` sums them (prometheus-client's multiprocess mode; the
directory must be emptied when the processes start, which
``healthhub.health.prepare_multiprocess_dir`` does). Without it each process
keeps its own values and ``/metrics`` shows that process's alone, which is
exact for the demo's single process.

Gauges that depend on other services (Celery queue depth) are read when
``/metrics`` is scraped, by the collector in ``healthhub.health``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds; most acks take milliseconds, a group commit under load tens of
# milliseconds, and the target is 250 ms at p95.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds from a reading's commit to its evaluation; the target is 30 s at p95.
_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

READINGS_STORED = Counter(
    "healthhub_readings_stored",
    "Readings newly stored (duplicates not counted).",
)
BATCHES_STORED = Counter(
    "healthhub_batches_stored",
    "Batches of readings committed (each acknowledged once committed).",
)
ACK_LATENCY = Histogram(
    "healthhub_ack_latency_seconds",
    "From a readings frame's arrival to its ack being sent.",
    buckets=_LATENCY_BUCKETS,
)
OPEN_SOCKETS = Gauge(
    "healthhub_open_sockets",
    "WebSocket connections accepted and not yet closed, by kind.",
    ["kind"],
    multiprocess_mode="livesum",
)
EVALUATION_LAG = Histogram(
    "healthhub_evaluation_lag_seconds",
    "From a reading's commit to the evaluation of its worker's alerts.",
    buckets=_LAG_BUCKETS,
)
ALERT_DELIVERY_LATENCY = Histogram(
    "healthhub_alert_delivery_latency_seconds",
    "From an alert's change to its arrival on a clinician's or worker's open page, by change.",
    ["change"],
    buckets=_LATENCY_BUCKETS,
)
PUSH_FAILURES = Counter(
    "healthhub_push_failures",
    "Pushes that could not be handed on, by channel (channel_layer: a live page or wearable).",
    ["channel"],
)
