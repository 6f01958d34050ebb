"""Run with ``manage.py shell`` on the private database of the PostgreSQL
fault test: a site, three consenting workers with a wearable each; prints
their worker ids and device tokens as JSON."""

import json

from devices.services import device_provision
from tests.factories import DepartmentFactory, SiteFactory, WorkerFactory
from workers.services import consent_grant, consent_text_ensure

department = DepartmentFactory(site=SiteFactory(code="pg-fault", name="PG fault plant"), name="Press shop")
cast = []
for index in range(3):
    worker = WorkerFactory(department=department)
    consent_grant(worker=worker, text=consent_text_ensure())
    _, token = device_provision(serial=f"PG-{index}", worker=worker)
    cast.append({"worker_id": worker.pk, "token": token})
print("CAST " + json.dumps(cast))
