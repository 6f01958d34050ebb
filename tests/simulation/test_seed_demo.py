"""``manage.py seed_demo``: the demo cast, idempotence, and the tokens file."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.utils import timezone

from devices.models import Device, DeviceStatus
from devices.selectors import device_by_token
from simulation.management.commands.seed_demo import DEMO_LOGINS
from simulation.physiology import Phase, phase_at
from tests.devices.wsclient import communicator
from workers.models import Department, Shift, Site, StaffProfile, StaffRole, Worker
from workers.selectors import worker_on_shift

WORKERS = 6


def seed(path: Path, workers: int = WORKERS) -> str:
    out = StringIO()
    call_command("seed_demo", workers=workers, devices_file=path, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [get_user_model(), Site, Department, Worker, Device, StaffProfile, Shift]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seed_creates_the_cast(tmp_path):
    output = seed(tmp_path / "devices.json")

    site = Site.objects.get(code="gumi-1")
    assert site.timezone == "Asia/Seoul" and "Gumi" in site.name
    assert site.departments.count() >= 5
    workers = list(Worker.objects.filter(site=site).select_related("user"))
    assert len(workers) == WORKERS
    for worker in workers:
        assert 1965 <= worker.birth_year <= 2003
        assert worker.user.last_name and worker.user.first_name  # Korean names
        assert worker.shift_pattern
        [device] = worker.devices.all()
        assert device.status == DeviceStatus.ACTIVE and device.token_hash
    assert {w.department_id for w in workers} > {workers[0].department_id}  # spread over departments

    roles = {p.role: p for p in StaffProfile.objects.prefetch_related("sites")}
    assert set(roles) == {StaffRole.CLINICIAN, StaffRole.HR, StaffRole.SITE_ADMIN, StaffRole.SAFETY_OFFICER}
    assert all(list(p.sites.all()) == [site] for p in roles.values())
    admin = roles[StaffRole.SITE_ADMIN].user
    assert admin.is_staff and not admin.is_superuser
    assert admin.has_perms(
        ["workers.change_worker", "workers.add_department", "devices.add_device", "alerts.change_sitethresholds"]
    )
    # The demo clinician is on call now, so the escalation chains reach someone.
    from alerts.escalation import on_call_now

    assert on_call_now(site.pk, timezone.now()).primary == roles[StaffRole.CLINICIAN].user
    assert not admin.has_perm("devices.view_reading") and not admin.has_perm("auth.change_user")
    assert not admin.has_perm("alerts.view_alert")  # alerts are health data
    assert not admin.has_perm("workers.add_site")

    # Every demo login works with the password printed for it.
    for login in DEMO_LOGINS:
        assert authenticate(username=login.username, password=login.password) is not None, login.username
        assert login.username in output and login.password in output
    assert get_user_model().objects.get(username="worker").worker.employee_number == "GM-0001"
    # The other workers cannot log in: no password anyone knows.
    assert not Worker.objects.get(employee_number="GM-0002").user.has_usable_password()


@pytest.mark.django_db
def test_seed_again_changes_nothing_but_the_tokens(tmp_path):
    path = tmp_path / "devices.json"
    seed(path)
    before, first = counts(), json.loads(path.read_text())
    names = list(Worker.objects.order_by("pk").values_list("user__last_name", "user__first_name", "birth_year"))

    seed(path)
    again = json.loads(path.read_text())
    assert counts() == before
    assert list(Worker.objects.order_by("pk").values_list("user__last_name", "user__first_name", "birth_year")) == names
    assert [e["serial"] for e in again] == [e["serial"] for e in first]
    for old, new in zip(first, again, strict=True):
        assert old["token"] != new["token"]  # re-issued ...
        assert device_by_token(old["token"]) is None  # ... so the old one no longer works
        assert device_by_token(new["token"]).serial == new["serial"]

    seed(path, workers=WORKERS + 2)  # more workers: the first ones stay who they were
    assert Worker.objects.count() == WORKERS + 2
    assert len(json.loads(path.read_text())) == WORKERS + 2


@pytest.mark.django_db
def test_tokens_file_is_private_and_names_each_workers_device(tmp_path):
    path = tmp_path / "var" / "demo-devices.json"
    seed(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = json.loads(path.read_text())
    assert len(entries) == WORKERS
    for entry in entries:
        device = device_by_token(entry["token"])
        assert device is not None and device.serial == entry["serial"]
        assert device.worker.employee_number == entry["employee_number"]
        assert device.worker.birth_year == entry["birth_year"]
        assert device.worker.shift_pattern == entry["shift_pattern"]


@pytest.mark.django_db
def test_the_roster_agrees_with_the_simulated_workers(tmp_path):
    """The platform's "on shift" (scheduled shifts) and what the simulator
    makes each worker do (work or break on shift) are the same roster."""
    path = tmp_path / "devices.json"
    seed(path, 12)
    entries = {e["employee_number"]: e for e in json.loads(path.read_text())}
    tz = ZoneInfo("Asia/Seoul")
    now = timezone.now()
    assert Shift.objects.exists()
    for worker in Worker.objects.select_related("site"):
        crew = entries[worker.employee_number]["crew"]
        for hours in range(0, 48, 5):
            at = now + timedelta(hours=hours)
            simulated = phase_at(worker.shift_pattern, crew, at.astimezone(tz)) in (Phase.WORK, Phase.BREAK)
            assert worker_on_shift(worker, at) == simulated, (worker.employee_number, at)


@pytest.mark.django_db(transaction=True)
async def test_a_token_from_the_file_opens_a_device_connection(tmp_path):
    path = tmp_path / "devices.json"
    await sync_to_async(seed)(path, 2)
    entry = json.loads(path.read_text())[1]
    comm = communicator(entry["token"])
    ok, _ = await comm.connect()
    assert ok
    welcome = await comm.receive_json_from()
    assert (welcome["type"], welcome["device"]) == ("welcome", entry["serial"])
    await comm.disconnect()


@pytest.mark.django_db
def test_seed_reuses_the_role_groups_of_the_migration(tmp_path):
    from django.contrib.auth.models import Group

    before = dict(Group.objects.values_list("name", "pk"))
    seed(tmp_path / "devices.json")
    assert dict(Group.objects.values_list("name", "pk")) == before
    admin = StaffProfile.objects.get(role=StaffRole.SITE_ADMIN).user
    assert not admin.has_perm("workers.delete_worker") and not admin.has_perm("devices.delete_device")
