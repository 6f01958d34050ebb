"""A staff role brings its permission group (accounts.role_groups): the
group comes from the migration, the profile's role puts its user in it."""

from __future__ import annotations

from django.contrib.auth.models import Group

from accounts.role_groups import GROUP_OF_ROLE
from workers.models import StaffProfile


def group_names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_site_administrator_gets_the_groups_permissions(adam):
    assert group_names(adam) == {GROUP_OF_ROLE["site_admin"]}
    assert adam.has_perms(["workers.change_worker", "devices.add_device", "alerts.change_sitethresholds"])
    assert not adam.has_perm("workers.delete_worker")


def test_a_change_of_role_changes_the_group(adam):
    profile = StaffProfile.objects.get(user=adam)
    profile.role = "clinician"
    profile.save()
    assert group_names(adam) == {GROUP_OF_ROLE["clinician"]}
    adam = type(adam).objects.get(pk=adam.pk)  # permissions are cached per instance
    assert not adam.has_perm("workers.change_worker")


def test_a_lost_group_is_made_again_from_the_same_definition(db):
    Group.objects.filter(name=GROUP_OF_ROLE["site_admin"]).delete()
    from tests.factories import SiteFactory, staff

    admin = staff("ada", "site_admin", SiteFactory(), is_staff=True)
    assert admin.has_perm("workers.change_worker")
