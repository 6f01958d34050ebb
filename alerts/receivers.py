"""How alerts react to the layers below: new readings or a new check-in ask for
the worker's alerts to be evaluated. Connected in AlertsConfig.ready()."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from alerts.services import evaluation_request, evaluations_request, zone_record
from devices.signals import readings_stored, zone_reported
from workers.signals import health_data_changed

log = logging.getLogger(__name__)


@receiver(readings_stored, dispatch_uid="alerts.evaluate_on_readings")
def evaluate_on_readings(sender: Any, *, worker_ids: set[int], urgent_ids: set[int], **kwargs: Any) -> None:
    # The fast path only: the outbox row written with the readings is the
    # record, and evaluations_request never raises for a broker failure.
    evaluations_request(worker_ids=worker_ids, urgent_ids=urgent_ids)


@receiver(health_data_changed, dispatch_uid="alerts.evaluate_on_health_data")
def evaluate_on_health_data(sender: Any, *, worker_id: int, **kwargs: Any) -> None:
    evaluation_request(worker_id=worker_id)


@receiver(zone_reported, dispatch_uid="alerts.record_zone")
def record_zone(sender: Any, *, worker_id: int, zone: str, at: Any, **kwargs: Any) -> None:
    zone_record(worker_id=worker_id, zone=zone, at=at)
