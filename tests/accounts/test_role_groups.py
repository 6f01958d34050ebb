"""The staff roles' permission groups come from a migration
(accounts.role_groups), so a production install has them."""

from __future__ import annotations

from django.contrib.auth.models import Group

from accounts.role_groups import GROUP_OF_ROLE, ROLE_GROUPS, role_group


def test_the_migration_created_every_role_group_with_its_permissions(db):
    for name, spec in ROLE_GROUPS.items():
        group = Group.objects.get(name=name)
        expected = {f"{action}_{model}" for (_, model), actions in spec.items() for action in actions}
        assert set(group.permissions.values_list("codename", flat=True)) == expected, name


def test_a_member_of_the_site_administrators_may_run_a_site_but_not_delete_people(adam):
    adam.groups.add(role_group("site_admin"))
    assert adam.has_perms(["workers.change_worker", "devices.add_device", "alerts.change_sitethresholds"])
    assert not adam.has_perm("workers.delete_worker") and not adam.has_perm("devices.delete_device")


def test_a_lost_group_is_made_again_from_the_same_definition(db):
    Group.objects.filter(name=GROUP_OF_ROLE["site_admin"]).delete()
    group = role_group("site_admin")
    assert group.permissions.filter(codename="change_worker").exists()
