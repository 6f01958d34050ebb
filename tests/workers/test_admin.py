"""The Django admin of sites, workers and staff, as a site administrator sees
it: their own sites only, and no way to reach or grant another site."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import UserFactory, staff
from workers.models import StaffProfile, Worker

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def adam_admin(adam):
    adam.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="workers",
            codename__in=[
                "view_site",
                "view_department",
                "add_worker",
                "change_worker",
                "view_worker",
                "add_staffprofile",
                "change_staffprofile",
                "view_staffprofile",
            ],
        )
    )
    return admin_client(adam)


def worker_form(user, site, department, employee_number="E-900") -> dict:
    return {
        "user": user.pk,
        "employee_number": employee_number,
        "site": site.pk,
        "department": department.pk,
        "shift_pattern": "day",
        "language": "ko",
        "birth_year": 1990,
        "_save": "Save",
    }


def enrol_form(department, employee_number="E-900") -> dict:
    """Adding a worker is enrolling one (tests/workers/test_enrolment.py)."""
    return {
        "employee_number": employee_number,
        "name": "Newbie",
        "department": department.pk,
        "shift_pattern": "day",
        "language": "ko",
        "birth_year": 1990,
    }


def test_site_admin_lists_only_workers_of_their_sites(adam_admin, alice, bob, charlie):
    response = adam_admin.get("/admin/workers/worker/")
    assert response.status_code == 200
    assert {w.user.username for w in response.context["cl"].result_list} == {"alice", "bob"}
    assert adam_admin.get(f"/admin/workers/worker/{charlie.pk}/change/").status_code == 302


def test_site_admin_adds_a_worker_to_their_own_site(adam_admin, alice):
    response = adam_admin.post("/admin/workers/worker/add/", enrol_form(alice.department))
    assert response.status_code == 302
    assert Worker.objects.get(employee_number="E-900").site == alice.site


def test_site_admin_cannot_add_a_worker_to_another_site(adam_admin, charlie):
    response = adam_admin.post("/admin/workers/worker/add/", enrol_form(charlie.department))
    assert response.status_code == 200
    assert "department" in response.context["form"].errors
    assert not Worker.objects.filter(employee_number="E-900").exists()


def test_site_admin_cannot_move_a_worker_to_another_site(adam_admin, alice, charlie):
    response = adam_admin.post(
        f"/admin/workers/worker/{alice.pk}/change/",
        worker_form(alice.user, charlie.site, charlie.department, alice.employee_number),
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.site.code == "plant-a"


def test_superuser_may_use_any_site(root, charlie):
    response = admin_client(root).post("/admin/workers/worker/add/", enrol_form(charlie.department))
    assert response.status_code == 302
    assert Worker.objects.get(employee_number="E-900").site == charlie.site


def test_site_admin_cannot_grant_themself_another_site(adam_admin, adam, site_a, site_b):
    profile = adam.staff_profile
    response = adam_admin.post(
        f"/admin/workers/staffprofile/{profile.pk}/change/",
        {"user": adam.pk, "role": "site_admin", "sites": [site_a.pk, site_b.pk], "_save": "Save"},
    )
    assert response.status_code == 200
    assert "sites" in response.context["adminform"].form.errors
    assert list(profile.sites.all()) == [site_a]


def test_editing_a_profile_that_spans_sites_keeps_the_sites_the_editor_does_not_manage(adam_admin, site_a, site_b):
    hedy = staff("hedy", "hr", site_a, site_b)
    response = adam_admin.post(
        f"/admin/workers/staffprofile/{hedy.staff_profile.pk}/change/",
        {"user": hedy.pk, "role": "hr", "sites": [site_a.pk], "_save": "Save"},
    )
    assert response.status_code == 302
    assert set(StaffProfile.objects.get(user=hedy).sites.all()) == {site_a, site_b}


def test_site_admin_cannot_see_profiles_of_other_sites_only(adam_admin, carl, clara):
    response = adam_admin.get("/admin/workers/staffprofile/")
    listed = {p.user.username for p in response.context["cl"].result_list}
    assert "clara" in listed
    assert "carl" not in listed


def test_other_staff_are_refused_the_admin(clara, hana):
    for user in (clara, hana):
        response = admin_client(user).get("/admin/workers/worker/")
        assert response.status_code == 302
        assert "/admin/login/" in response.url


def test_site_admin_cannot_grant_or_edit_the_clinician_role(client, adam, clara, site_a):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory
    from workers.models import StaffProfile

    adam.user_permissions.add(*Permission.objects.filter(codename__endswith="staffprofile"))
    client.force_login(adam)
    form = client.get("/admin/workers/staffprofile/add/").content.decode()
    assert 'value="clinician"' not in form and 'value="hr"' in form
    newbie = UserFactory(username="newbie")
    response = client.post(
        "/admin/workers/staffprofile/add/", {"user": newbie.pk, "role": "clinician", "sites": [site_a.pk]}
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert not StaffProfile.objects.filter(user=newbie).exists()
    change_url = f"/admin/workers/staffprofile/{clara.staff_profile.pk}/change/"
    assert 'name="_save"' not in client.get(change_url).content.decode()  # read only
    other = UserFactory(username="other")
    assert client.post(change_url, {"user": other.pk, "role": "clinician", "sites": [site_a.pk]}).status_code == 403
    clara.staff_profile.refresh_from_db()
    assert clara.staff_profile.user == clara


def test_site_admin_exports_the_access_log_of_their_sites_only(client, adam, alice, charlie, clara, carl):
    from workers.models import AccessLog
    from workers.services import access_log_record

    access_log_record(accessor=clara, worker=alice, what="readings", reason="heat alert")
    access_log_record(accessor=carl, worker=charlie, what="readings")
    client.force_login(adam)
    listing = client.get("/admin/workers/accesslog/").content.decode()
    assert alice.employee_number in listing and charlie.employee_number not in listing
    ids = list(AccessLog.objects.values_list("pk", flat=True))
    response = client.post(
        "/admin/workers/accesslog/", {"action": "export_csv", "_selected_action": [str(pk) for pk in ids]}
    )
    rows = response.content.decode("utf-8-sig").strip().splitlines()
    assert rows[0] == "at,accessor,employee_number,what,reason"
    assert len(rows) == 2 and rows[1].endswith(f",clara,{alice.employee_number},readings,heat alert")
    entry = AccessLog.objects.get(worker=alice)
    assert client.post(f"/admin/workers/accesslog/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_a_change_of_who_a_worker_is_is_told_to_the_worker(adam_admin, adam, alice):
    from workers.models import WorkerEvent

    response = adam_admin.post(
        f"/admin/workers/worker/{alice.pk}/change/",
        worker_form(alice.user, alice.site, alice.department, "E-RENAMED"),
    )
    assert response.status_code == 302
    [event] = WorkerEvent.objects.filter(worker=alice, kind="identity_changed")
    assert event.detail == "employee_number, birth_year" and event.by == adam  # the form also moves 1985 to 1990
    # Saving again without a change of identity tells nothing more.
    adam_admin.post(
        f"/admin/workers/worker/{alice.pk}/change/",
        worker_form(alice.user, alice.site, alice.department, "E-RENAMED"),
    )
    assert WorkerEvent.objects.filter(worker=alice, kind="identity_changed").count() == 1
