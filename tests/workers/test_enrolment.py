"""A site administrator enrols workers (one by one or from a CSV), hands
each a first sign-in sheet, deactivates rather than deletes; a worker's
sign-in is fixed at creation and is never a staff account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone, translation

from tests.factories import DepartmentFactory, UserFactory, WorkerFactory, staff
from workers.models import SignInCode, StaffProfile, Worker
from workers.services import (
    NewWorker,
    WorkerUserError,
    sign_in_code_issue,
    sign_in_code_redeem,
    worker_deactivate,
    worker_enrol,
    workers_import,
)

pytestmark = pytest.mark.django_db

HEADER = "employee_number,name,department,shift_pattern,language,birth_year\n"


@pytest.fixture
def adam_client(adam):
    adam.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["workers", "devices"],
            codename__in=[
                "view_site",
                "view_department",
                "add_worker",
                "change_worker",
                "view_worker",
                "add_device",
                "change_device",
                "view_device",
            ],
        )
    )
    client = Client()
    client.force_login(adam)
    return client


def new_worker(department, number="E-100", name="김민준") -> NewWorker:
    return NewWorker(
        employee_number=number, name=name, department=department, shift_pattern="day", language="ko", birth_year=1990
    )


# -- the user link ---------------------------------------------------------------


def test_a_workers_sign_in_cannot_be_moved_to_another_user(alice):
    other = UserFactory(username="other")
    alice.user = other
    with pytest.raises(WorkerUserError):
        alice.save()
    assert Worker.objects.get(pk=alice.pk).user.username == "alice"


@pytest.mark.parametrize(
    "make_staff",
    [
        lambda site: UserFactory(username="boss", is_staff=True),
        lambda site: UserFactory(username="boss", is_superuser=True),
        lambda site: staff("boss", "clinician", site),
        lambda site: staff("boss", "hr", site),
    ],
    ids=["django-staff", "superuser", "clinician", "hr"],
)
def test_a_staff_account_cannot_become_a_worker(site_a, make_staff):
    user = make_staff(site_a)
    with pytest.raises(WorkerUserError):
        WorkerFactory(user=user, department=DepartmentFactory(site=site_a))
    assert not Worker.objects.filter(user=user).exists()


def test_a_workers_sign_in_cannot_be_made_staff_afterwards(alice, site_a):
    alice.user.is_superuser = True
    with pytest.raises(WorkerUserError):
        alice.user.save()
    with pytest.raises(WorkerUserError):
        StaffProfile.objects.create(user=alice.user, role="clinician")
    alice.user.refresh_from_db()
    assert not alice.user.is_superuser
    assert not StaffProfile.objects.filter(user=alice.user).exists()


def test_the_admin_shows_the_sign_in_read_only(adam_client, alice):
    page = adam_client.get(f"/admin/workers/worker/{alice.pk}/change/").content.decode()
    assert 'name="user"' not in page
    adam_client.post(
        f"/admin/workers/worker/{alice.pk}/change/",
        {
            "user": UserFactory(username="other").pk,
            "employee_number": alice.employee_number,
            "site": alice.site_id,
            "department": alice.department_id,
            "shift_pattern": "day",
            "language": "ko",
            "birth_year": 1985,
            "_save": "Save",
        },
    )
    alice.refresh_from_db()
    assert alice.user.username == "alice"


# -- enrolling one worker ----------------------------------------------------------


def test_site_admin_enrols_a_worker_and_gets_one_printable_sheet(adam_client, alice):
    response = adam_client.post(
        "/admin/workers/worker/add/",
        {
            "employee_number": "E-777",
            "name": "이서연",
            "department": alice.department_id,
            "shift_pattern": "night",
            "language": "en",
            "birth_year": 1992,
        },
    )
    assert response.status_code == 302 and response.url.endswith("/admin/workers/worker/sheets/")
    worker = Worker.objects.select_related("user").get(employee_number="E-777")
    assert worker.user.username == "E-777" and not worker.user.has_usable_password()
    assert (worker.site, worker.shift_pattern, worker.language) == (alice.site, "night", "en")
    sheet = adam_client.get("/admin/workers/worker/sheets/").content.decode()
    assert "<svg" in sheet and "이서연" in sheet and "Your one-time code" in sheet  # in the worker's language
    # Shown once: the codes are not kept.
    assert "<svg" not in adam_client.get("/admin/workers/worker/sheets/").content.decode()


def test_site_admin_cannot_enrol_into_another_site(adam_client, charlie):
    response = adam_client.post(
        "/admin/workers/worker/add/",
        {
            "employee_number": "E-778",
            "name": "x",
            "department": charlie.department_id,
            "shift_pattern": "day",
            "language": "ko",
            "birth_year": 1990,
        },
    )
    assert response.status_code == 200 and "department" in response.context["form"].errors
    assert not Worker.objects.filter(employee_number="E-778").exists()


def test_clinicians_cannot_enrol(clara, alice):
    client = Client()
    client.force_login(clara)
    assert client.get("/admin/workers/worker/add/").status_code == 302  # to the admin login
    assert not get_user_model().objects.filter(username="E-1").exists()


# -- the one-time code -----------------------------------------------------------------


def test_the_code_signs_the_worker_in_once_and_they_set_a_password(alice):
    enrolled = worker_enrol(new=new_worker(alice.department), by=None)
    client = Client()
    opened = client.get(f"/accounts/first-login/?code={enrolled.code}")
    assert opened.status_code == 200 and SignInCode.objects.filter(used_at__isnull=True).count() == 1
    response = client.post("/accounts/first-login/", {"code": enrolled.code.lower().replace("-", " ")})
    assert response.status_code == 302 and response.url == "/accounts/first-login/password/"
    response = client.post(
        "/accounts/first-login/password/",
        {"new_password1": "a-long-pass-phrase-7", "new_password2": "a-long-pass-phrase-7"},
    )
    assert response.status_code == 302
    assert client.get("/me/").status_code == 200
    enrolled.worker.user.refresh_from_db()
    assert enrolled.worker.user.check_password("a-long-pass-phrase-7")
    second = Client().post("/accounts/first-login/", {"code": enrolled.code})
    assert second.status_code == 400 and "_auth_user_id" not in second.client.session


def test_expired_reissued_and_deactivated_codes_do_not_work(alice):
    enrolled = worker_enrol(new=new_worker(alice.department), by=None)
    user = enrolled.worker.user
    later = timezone.now() + timedelta(days=15)
    assert sign_in_code_redeem(code=enrolled.code, now=later) is None
    newer = sign_in_code_issue(user=user, by=None)
    assert sign_in_code_redeem(code=enrolled.code) is None  # retired by the new one
    worker_deactivate(worker=enrolled.worker)
    assert sign_in_code_redeem(code=newer) is None
    assert sign_in_code_redeem(code="2222-2222-2222") is None


def test_no_code_for_a_staff_account(clara):
    with pytest.raises(WorkerUserError):
        sign_in_code_issue(user=clara, by=None)


def test_a_new_sheet_from_the_workers_page(adam_client, alice):
    response = adam_client.post(f"/admin/workers/worker/{alice.pk}/sign-in-code/")
    assert response.status_code == 302
    assert SignInCode.objects.filter(user=alice.user, used_at__isnull=True).count() == 1
    assert adam_client.get(f"/admin/workers/worker/{alice.pk}/sign-in-code/").status_code == 405


# -- deactivation ------------------------------------------------------------------------


def test_workers_are_deactivated_not_deleted(adam_client, alice, bob):
    assert adam_client.post(f"/admin/workers/worker/{alice.pk}/delete/", {"post": "yes"}).status_code == 403
    response = adam_client.post("/admin/workers/worker/", {"action": "deactivate", "_selected_action": [str(alice.pk)]})
    assert response.status_code == 302
    alice.user.refresh_from_db()
    bob.user.refresh_from_db()
    assert not alice.user.is_active and bob.user.is_active
    assert Worker.objects.filter(pk=alice.pk).exists()
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    assert "_auth_user_id" not in client.session


# -- bulk import -------------------------------------------------------------------------


def csv_of(rows: list[str]) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


def test_fifty_workers_from_a_csv(adam_client, alice, site_a):
    rows = [f"E-{i:03d},작업자{i},Assembly,three_shift,ko,{1970 + i % 30}" for i in range(50)]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("workers.csv", csv_of(rows), content_type="text/csv")
    response = adam_client.post("/admin/workers/worker/import/", {"site": site_a.pk, "file": upload})
    assert response.status_code == 302
    assert Worker.objects.filter(employee_number__startswith="E-0").count() == 50
    sheet = adam_client.get("/admin/workers/worker/sheets/").content.decode()
    assert sheet.count('class="sheet"') == 50


def test_an_import_with_errors_imports_nothing_and_names_each_row(alice, site_a):
    rows = [
        "E-1,김민준,Assembly,day,ko,1990",
        "E-2,,Nowhere,weekly,fr,19",
        "E-1,박지후,Assembly,night,en,1991",
        f"{alice.employee_number},앨리스,Assembly,day,ko,1985",
    ]
    with translation.override("en"):
        result = workers_import(data=csv_of(rows), site=site_a, only_valid=False, by=None)
    assert not result.enrolled and not Worker.objects.filter(employee_number="E-1").exists()
    by_line = {row.line: row.errors for row in result.invalid}
    assert set(by_line) == {3, 4, 5}
    assert len(by_line[3]) == 5  # name, department, shift, language, birth year
    assert "repeats line 2" in by_line[4][0]
    assert "already enrolled" in by_line[5][0]


def test_an_import_may_take_only_the_valid_rows(adam_client, alice, site_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    rows = ["E-1,김민준,Assembly,day,ko,1990", "E-2,박지후,Paint,day,ko,1990"]
    upload = SimpleUploadedFile("w.csv", csv_of(rows), content_type="text/csv")
    response = adam_client.post(
        "/admin/workers/worker/import/", {"site": site_a.pk, "file": upload, "only_valid": "on"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'id="import-errors"' in page and "Paint" in page
    assert list(
        Worker.objects.filter(employee_number__in=["E-1", "E-2"]).values_list("employee_number", flat=True)
    ) == ["E-1"]


def test_an_import_refuses_a_file_without_the_columns_or_not_utf8(site_a):
    assert workers_import(data=b"a,b\n1,2\n", site=site_a, only_valid=True, by=None).file_errors
    assert workers_import(data=HEADER.encode("utf-16"), site=site_a, only_valid=True, by=None).file_errors


def test_a_site_admin_imports_only_into_their_sites(adam_client, charlie, site_b):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("w.csv", csv_of(["E-9,x,Molding,day,ko,1990"]), content_type="text/csv")
    response = adam_client.post("/admin/workers/worker/import/", {"site": site_b.pk, "file": upload})
    assert response.status_code == 200 and "site" in response.context["form"].errors
    assert not Worker.objects.filter(employee_number="E-9").exists()


# -- devices from the worker's page, consent records ---------------------------------------


def test_device_assignment_and_revocation_from_the_workers_page(adam_client, alice, charlie):
    from devices.models import Device
    from devices.services import device_provision

    page = adam_client.get(f"/admin/workers/worker/{alice.pk}/change/").content.decode()
    assert f"/admin/devices/device/assign/?worker={alice.pk}" in page
    response = adam_client.post("/admin/devices/device/assign/", {"worker": alice.pk, "serial": "NEW-1"})
    assert response.status_code == 302
    device = Device.objects.get(serial="NEW-1")
    assert device.worker == alice
    # A device of another site is not taken over.
    device_provision(serial="B-1", worker=charlie)
    response = adam_client.post("/admin/devices/device/assign/", {"worker": alice.pk, "serial": "B-1"})
    assert response.status_code == 200 and Device.objects.get(serial="B-1").worker == charlie
    # Nor can a worker of another site be given one.
    assert adam_client.get(f"/admin/devices/device/assign/?worker={charlie.pk}").status_code == 404
    # Revoking asks first.
    confirm = adam_client.get(f"/admin/devices/device/{device.pk}/revoke/")
    assert confirm.status_code == 200 and 'name="post" value="yes"' in confirm.content.decode()
    adam_client.post(f"/admin/devices/device/{device.pk}/revoke/")
    device.refresh_from_db()
    assert device.status == "active"
    adam_client.post(f"/admin/devices/device/{device.pk}/revoke/", {"post": "yes"})
    device.refresh_from_db()
    assert device.status == "revoked"


def test_the_revoke_action_asks_for_confirmation(adam_client, alice_device):
    device, _ = alice_device
    response = adam_client.post("/admin/devices/device/", {"action": "revoke", "_selected_action": [str(device.pk)]})
    assert response.status_code == 200 and "A-1" in response.content.decode()
    device.refresh_from_db()
    assert device.status == "active"
    adam_client.post(
        "/admin/devices/device/", {"action": "revoke", "_selected_action": [str(device.pk)], "post": "yes"}
    )
    device.refresh_from_db()
    assert device.status == "revoked"


def test_site_admins_list_the_consent_records_of_their_sites(adam_client, alice, charlie):
    page = adam_client.get("/admin/workers/consent/")
    assert page.status_code == 200
    text = page.content.decode()
    assert alice.employee_number in text and charlie.employee_number not in text
