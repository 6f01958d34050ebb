"""Provisioning and revoking devices: the services, the management command,
the API and the Django admin. A token is shown once and only its SHA-256
hash is kept."""

from __future__ import annotations

import hashlib
import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db.models import QuerySet
from django.test import Client

from devices.models import Device, DeviceStatus
from devices.selectors import device_by_token
from devices.services import ProvisioningError, device_provision, device_revoke, device_token_rotate
from tests.conftest import api_as
from tests.factories import UserFactory, staff

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"hhd_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def bea(site_b):
    """Site administrator of plant B (adam's counterpart)."""
    return staff("bea", "site_admin", site_b, is_staff=True)


@pytest.fixture
def charlie_device(charlie):
    return device_provision(serial="B-1", worker=charlie)


@pytest.fixture
def spare_device(db):
    """A device assigned to nobody, so of no site."""
    return device_provision(serial="U-1")


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def row_values(device: Device) -> list[object]:
    return list(Device.objects.filter(pk=device.pk).values().get().values())


# --- services ----------------------------------------------------------------


def test_provision_returns_a_token_of_which_only_the_sha256_is_stored(alice):
    device, token = device_provision(serial="A-9", model="Band 3", worker=alice)
    assert TOKEN.fullmatch(token)
    device.refresh_from_db()
    assert device.token_hash == sha256(token)
    assert token not in [str(v) for v in row_values(device)]
    assert device.status == DeviceStatus.ACTIVE
    assert device.token_issued_at is not None
    assert device_by_token(token) == device


def test_every_device_gets_its_own_token(alice):
    tokens = {device_provision(serial=f"A-{n}", worker=alice)[1] for n in range(5)}
    assert len(tokens) == 5


def test_provision_strips_the_serial(alice):
    device, _ = device_provision(serial="  A-9 \n", worker=alice)
    assert device.serial == "A-9"


@pytest.mark.parametrize("serial", ["", "   "])
def test_a_blank_serial_is_refused(serial):
    with pytest.raises(ProvisioningError, match="serial"):
        device_provision(serial=serial)
    assert not Device.objects.exists()


def test_a_duplicate_serial_is_a_clear_error_and_keeps_the_first_device(alice_device, bob):
    with pytest.raises(ProvisioningError, match="'A-1' already exists"):
        device_provision(serial=" A-1", worker=bob)
    assert list(Device.objects.values_list("serial", "worker")) == [("A-1", alice_device[0].worker_id)]


def test_a_duplicate_serial_that_slips_past_the_check_is_the_same_clear_error(alice_device, monkeypatch):
    # Two admins provisioning one serial at once both see "no such device";
    # the database's unique key decides, and the loser gets the same error.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    with pytest.raises(ProvisioningError, match="already exists"):
        device_provision(serial="A-1")
    monkeypatch.undo()
    assert Device.objects.count() == 1  # and the transaction is still usable


@pytest.mark.parametrize(("field", "value"), [("serial", "S" * 65), ("model", "M" * 101)])
def test_a_value_longer_than_its_column_is_refused(field, value):
    fields = {"serial": "A-9", "model": "", field: value}
    with pytest.raises(ProvisioningError, match=f"{field} has at most"):
        device_provision(**fields)
    assert not Device.objects.exists()


def test_revoke_forgets_the_token_and_is_idempotent(alice_device):
    device, token = alice_device
    device_revoke(device=device)
    device_revoke(device=device)
    device.refresh_from_db()
    assert (device.status, device.token_hash) == (DeviceStatus.REVOKED, None)
    assert device_by_token(token) is None


def test_rotate_stops_the_old_token_and_issues_a_working_new_one(alice_device):
    device, old = alice_device
    issued = device.token_issued_at
    new = device_token_rotate(device=device)
    assert new != old
    assert device_by_token(old) is None
    assert device_by_token(new) == device
    device.refresh_from_db()
    assert device.token_hash == sha256(new)
    assert device.token_issued_at > issued


def test_rotate_reactivates_a_revoked_device(alice_device):
    device, _ = alice_device
    device_revoke(device=device)
    new = device_token_rotate(device=device)
    assert device_by_token(new) == device
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.ACTIVE


# --- management command ------------------------------------------------------


def provision_command(*args: str) -> list[str]:
    out = StringIO()
    call_command("provision_device", *args, stdout=out)
    return out.getvalue().splitlines()


def test_command_prints_a_working_token_as_its_last_line(alice):
    lines = provision_command("W-9", "--worker", alice.employee_number, "--model", "Band 3")
    device = device_by_token(lines[-1])
    assert device is not None
    assert (device.serial, device.model, device.worker) == ("W-9", "Band 3", alice)
    assert device.token_hash == sha256(lines[-1])
    assert all(lines[-1] not in line for line in lines[:-1])


def test_command_without_worker_provisions_an_unassigned_device(db):
    lines = provision_command("W-9")
    device = device_by_token(lines[-1])
    assert (device.serial, device.worker) == ("W-9", None)


def test_command_refuses_an_unknown_worker_and_creates_nothing(alice):
    with pytest.raises(CommandError, match="no worker with employee number 'X-404'"):
        provision_command("W-9", "--worker", "X-404")
    assert not Device.objects.exists()


def test_command_refuses_a_duplicate_serial_and_prints_no_token(alice_device):
    out = StringIO()
    with pytest.raises(CommandError, match="'A-1' already exists"):
        call_command("provision_device", "A-1", stdout=out)
    assert not TOKEN.search(out.getvalue())
    assert Device.objects.count() == 1


# --- API -----------------------------------------------------------------------

PROVISION = "/api/v1/devices/"


def revoke_url(serial: str) -> str:
    return f"/api/v1/devices/{serial}/revoke/"


def test_site_admin_provisions_a_device_for_a_worker_of_their_site(adam, alice):
    response = api_as(adam).post(
        PROVISION, {"serial": "A-9", "model": "Band 3", "employee_number": alice.employee_number}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["device"] == {
        "serial": "A-9",
        "model": "Band 3",
        "employee_number": alice.employee_number,
        "status": "active",
        "last_seen_at": None,
        "battery": None,
    }
    assert device_by_token(body["token"]).worker == alice
    assert Device.objects.get(serial="A-9").token_hash == sha256(body["token"])


@pytest.mark.parametrize("who", ["clara", "hana", "alice", "carl"])
def test_provisioning_is_refused_to_anyone_but_site_admins(who, request, alice):
    user = request.getfixturevalue(who)
    user = getattr(user, "user", user)  # alice is a Worker
    response = api_as(user).post(PROVISION, {"serial": "A-9", "employee_number": alice.employee_number}, format="json")
    assert response.status_code == 403
    assert "token" not in response.json()
    assert not Device.objects.exists()


def test_provisioning_is_refused_to_anonymous(alice):
    response = api_as(None).post(PROVISION, {"serial": "A-9", "employee_number": alice.employee_number})
    assert response.status_code in (401, 403)
    assert not Device.objects.exists()


def test_another_sites_admin_cannot_provision_for_alice(bea, alice):
    response = api_as(bea).post(PROVISION, {"serial": "A-9", "employee_number": alice.employee_number}, format="json")
    assert response.status_code == 400
    assert response.json() == {"employee_number": ["no such worker on your sites"]}
    assert not Device.objects.exists()


def test_a_site_admin_cannot_provision_a_device_for_nobody(adam):
    # An unassigned device belongs to no site, so only a superuser manages it.
    response = api_as(adam).post(PROVISION, {"serial": "U-9"}, format="json")
    assert response.status_code == 400
    assert "employee_number" in response.json()
    assert not Device.objects.exists()


def test_a_superuser_provisions_a_device_for_nobody(root):
    response = api_as(root).post(PROVISION, {"serial": "U-9"}, format="json")
    assert response.status_code == 201
    assert response.json()["device"]["employee_number"] is None
    assert device_by_token(response.json()["token"]).serial == "U-9"


def test_a_duplicate_serial_over_the_api_is_400_with_the_reason(adam, alice_device, alice):
    response = api_as(adam).post(PROVISION, {"serial": "A-1", "employee_number": alice.employee_number}, format="json")
    assert response.status_code == 400
    assert response.json() == {"serial": ["a device with serial 'A-1' already exists"]}


def test_site_admin_revokes_a_device_of_their_site(adam, alice_device):
    _, token = alice_device
    response = api_as(adam).post(revoke_url("A-1"))
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert device_by_token(token) is None


@pytest.mark.parametrize(
    ("who", "status"), [("clara", 403), ("hana", 403), ("alice", 403), ("carl", 403), ("bea", 404)]
)
def test_revoking_is_refused_to_anyone_but_the_sites_admins(who, status, request, alice_device, bea):
    _, token = alice_device
    user = request.getfixturevalue(who)
    response = api_as(getattr(user, "user", user)).post(revoke_url("A-1"))
    assert response.status_code == status
    assert device_by_token(token) is not None


def test_revoking_is_refused_to_anonymous(alice_device):
    _, token = alice_device
    assert api_as(None).post(revoke_url("A-1")).status_code in (401, 403)
    assert device_by_token(token) is not None


def test_revoking_an_unknown_serial_is_404(adam, alice_device):
    assert api_as(adam).post(revoke_url("nope")).status_code == 404


def test_a_site_admin_cannot_revoke_an_unassigned_device(adam, spare_device):
    _, token = spare_device
    assert api_as(adam).post(revoke_url("U-1")).status_code == 404
    assert device_by_token(token) is not None


def test_a_superuser_revokes_any_device_including_unassigned_ones(root, spare_device, charlie_device):
    for serial, token in [("U-1", spare_device[1]), ("B-1", charlie_device[1])]:
        response = api_as(root).post(revoke_url(serial))
        assert response.status_code == 200
        assert device_by_token(token) is None


# --- Django admin --------------------------------------------------------------

ADMIN = "/admin/devices/device/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="devices", codename__in=codenames))


@pytest.fixture
def adam_admin(adam):
    grant(adam, "add_device", "change_device", "view_device")
    return admin_client(adam)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def add_device(client: Client, serial: str, worker=None):
    data = {"serial": serial, "model": "Band 3", "worker": worker.pk if worker else "", "_save": "Save"}
    return client.post(f"{ADMIN}add/", data, follow=True)


def test_admin_add_provisions_through_the_service_and_shows_the_token_once(root, alice):
    client = admin_client(root)
    response = add_device(client, "A-9", alice)
    assert response.status_code == 200
    tokens = [t for m in messages_of(response) for t in TOKEN.findall(m)]
    assert len(tokens) == 1
    device = device_by_token(tokens[0])
    assert (device.serial, device.worker) == ("A-9", alice)
    assert device.token_hash == sha256(tokens[0])
    # once: neither the list nor the device's page shows it again
    assert tokens[0] not in client.get(ADMIN).content.decode()
    assert tokens[0] not in client.get(f"{ADMIN}{device.pk}/change/").content.decode()


def test_admin_add_refuses_a_duplicate_serial(root, alice_device, alice):
    response = add_device(admin_client(root), "A-1", alice)
    assert not TOKEN.search(" ".join(messages_of(response)))
    assert "serial" in response.context["adminform"].form.errors
    assert Device.objects.count() == 1


def test_admin_revoke_action_revokes_the_selected_devices(root, alice_device, charlie_device):
    client = admin_client(root)
    selected = {"action": "revoke", "_selected_action": [alice_device[0].pk, charlie_device[0].pk]}
    client.post(ADMIN, selected)  # asks for confirmation first (tests/workers/test_enrolment.py)
    assert device_by_token(alice_device[1]) is not None
    response = client.post(ADMIN, {**selected, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert device_by_token(alice_device[1]) is None
    assert device_by_token(charlie_device[1]) is None


def test_admin_rotate_action_shows_a_new_working_token(root, alice_device):
    device, old = alice_device
    response = admin_client(root).post(ADMIN, {"action": "rotate_token", "_selected_action": [device.pk]}, follow=True)
    tokens = [t for m in messages_of(response) for t in TOKEN.findall(m)]
    assert len(tokens) == 1
    assert device_by_token(old) is None
    assert device_by_token(tokens[0]) == device


def test_site_admin_provisions_in_the_admin_for_their_own_site(adam_admin, alice):
    response = add_device(adam_admin, "A-9", alice)
    tokens = [t for m in messages_of(response) for t in TOKEN.findall(m)]
    assert device_by_token(tokens[0]).worker == alice


def test_site_admin_cannot_provision_in_the_admin_for_another_sites_worker(adam_admin, charlie):
    response = add_device(adam_admin, "B-9", charlie)
    assert "worker" in response.context["adminform"].form.errors
    assert not Device.objects.exists()


def test_site_admin_cannot_provision_in_the_admin_for_nobody(adam_admin):
    response = add_device(adam_admin, "U-9")
    assert "worker" in response.context["adminform"].form.errors
    assert not Device.objects.exists()


def test_site_admin_cannot_reassign_a_device_to_another_sites_worker(adam_admin, alice_device, charlie):
    device, _ = alice_device
    response = adam_admin.post(
        f"{ADMIN}{device.pk}/change/", {"serial": "A-1", "model": "", "worker": charlie.pk, "_save": "Save"}
    )
    assert response.status_code == 200  # the form again, with its error
    assert "worker" in response.context["adminform"].form.errors
    assert Device.objects.get(pk=device.pk).worker_id == device.worker_id


def test_site_admin_sees_only_devices_of_their_sites_workers(adam_admin, alice_device, charlie_device, spare_device):
    response = adam_admin.get(ADMIN)
    assert response.status_code == 200
    listed = [d.serial for d in response.context["cl"].result_list]
    assert listed == ["A-1"]
    for other in (charlie_device[0], spare_device[0]):
        page = adam_admin.get(f"{ADMIN}{other.pk}/change/")
        assert page.status_code == 302  # "doesn't exist", back to the index
        assert other.serial not in adam_admin.get(page.url).content.decode()


def test_site_admin_revoke_action_ignores_devices_of_other_sites(adam_admin, alice_device, charlie_device):
    selected = [alice_device[0].pk, charlie_device[0].pk]
    adam_admin.post(ADMIN, {"action": "revoke", "_selected_action": selected, "post": "yes"})
    assert device_by_token(alice_device[1]) is None
    assert device_by_token(charlie_device[1]) is not None


def test_staff_with_view_permission_only_cannot_revoke(adam, alice_device):
    grant(adam, "view_device")
    client = admin_client(adam)
    assert client.get(ADMIN).status_code == 200
    client.post(ADMIN, {"action": "revoke", "_selected_action": [alice_device[0].pk], "post": "yes"})
    assert device_by_token(alice_device[1]) is not None


def test_non_staff_users_are_sent_to_the_admin_login(clara, alice_device):
    response = admin_client(clara).post(ADMIN, {"action": "revoke", "_selected_action": [alice_device[0].pk]})
    assert response.status_code == 302
    assert "/admin/login/" in response.url
    assert device_by_token(alice_device[1]) is not None
