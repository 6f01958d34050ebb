"""Run with ``manage.py shell`` on the private database of the PostgreSQL
fault test: a site, three consenting workers with a wearable each, and its
clinician on call with a phone subscribed at PUSH_ENDPOINT (PUSH_P256DH,
PUSH_AUTH) and a signed-in session for the dashboard. Prints the workers'
ids and device tokens and the session key as JSON."""

import json
import os

from django.test import Client

from devices.services import device_provision
from tests.factories import DepartmentFactory, SiteFactory, WorkerFactory, staff
from tests.faults.people import on_call_with_a_phone
from workers.services import consent_grant, consent_text_ensure

site = SiteFactory(code="pg-fault", name="PG fault plant")
department = DepartmentFactory(site=site, name="Press shop")
cast = []
for index in range(3):
    worker = WorkerFactory(department=department)
    consent_grant(worker=worker, text=consent_text_ensure())
    _, token = device_provision(serial=f"PG-{index}", worker=worker)
    cast.append({"worker_id": worker.pk, "token": token})
clinician = staff("pg-clinician", "clinician", site)
on_call_with_a_phone(clinician, site, os.environ["PUSH_ENDPOINT"], os.environ["PUSH_P256DH"], os.environ["PUSH_AUTH"])
client = Client()
client.force_login(clinician)
print("CAST " + json.dumps({"wearers": cast, "session": client.cookies["sessionid"].value}))
