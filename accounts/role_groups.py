"""The Django permission groups of the staff roles, defined once.

A data migration (accounts 0001) creates them, so that a production install
has them without the demo seed; ``role_groups_sync`` is the same code, run
again by whoever finds a group missing (a test database that was emptied).
An administrator gives a person their role's group in the admin (Django's
usual way; the demo seed does it for its cast).

Only site administrators work in the Django admin. Their group may run a
site: its workers, departments, roles, shifts, devices and rule thresholds
(the admin scopes every list to their own sites). It may not delete workers
or devices (people are deactivated and devices revoked: deleting either
would take health records, the access log and consent history with it),
read readings, alerts or the access log (health data is read through
audited pages only), change user accounts (that includes making a
superuser), or create and delete sites. Clinicians and HR work in the
application's own pages: their groups carry no model permission and say
who they are in the admin.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes

# group name -> {(app_label, model): actions}
ROLE_GROUPS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "Site administrators": {
        ("workers", "worker"): ("view", "add", "change"),
        ("workers", "department"): ("view", "add", "change", "delete"),
        ("workers", "staffprofile"): ("view", "add", "change", "delete"),
        ("workers", "shift"): ("view", "add", "change", "delete"),
        ("workers", "site"): ("view", "change"),
        ("devices", "device"): ("view", "add", "change"),
        ("alerts", "sitethresholds"): ("view", "add", "change", "delete"),
        ("alerts", "oncall"): ("view", "add", "change", "delete"),
        ("alerts", "escalationstep"): ("view", "add", "change", "delete"),
        ("appointments", "availability"): ("view", "add", "change", "delete"),
        ("appointments", "availabilityexception"): ("view", "add", "change", "delete"),
    },
    "Clinicians": {},
    "HR": {},
    "Safety officers": {},
}

# StaffRole value -> group name (workers.models.StaffRole; strings so that the
# migration does not depend on the model's current code).
GROUP_OF_ROLE = {
    "site_admin": "Site administrators",
    "clinician": "Clinicians",
    "hr": "HR",
    "safety_officer": "Safety officers",
}


def role_groups_sync(apps: Any = global_apps, using: str = "default") -> None:
    """Create the groups and set their permissions to exactly ROLE_GROUPS
    (idempotent). ``apps`` is the migration's registry inside a migration."""
    known = {
        (label, model) for spec in ROLE_GROUPS.values() for label, model in spec if _model_exists(apps, label, model)
    }
    for label in {label for label, _ in known}:
        # In a fresh database the permissions are created after the last
        # migration (post_migrate); the groups need them now.
        config = apps.get_app_config(label)
        # A migration's app configs are stubs without models_module, which
        # both functions check only to skip apps without models.
        stub = not hasattr(config, "models_module")
        if stub:
            config.models_module = True
        try:
            create_contenttypes(config, verbosity=0, using=using, apps=apps)
            create_permissions(config, verbosity=0, using=using, apps=apps)
        finally:
            if stub:
                del config.models_module
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, spec in ROLE_GROUPS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        wanted = []
        for (label, model), actions in spec.items():
            if (label, model) not in known:
                continue  # not created yet at this migration: a later one syncs again
            codenames = [f"{action}_{model}" for action in actions]
            found = list(
                permission_model.objects.using(using).filter(
                    content_type__app_label=label, content_type__model=model, codename__in=codenames
                )
            )
            if len(found) != len(codenames):
                raise LookupError(f"permissions missing for {label}.{model}: {codenames}")
            wanted += found
        group.permissions.set(wanted)


def _model_exists(apps: Any, label: str, model: str) -> bool:
    try:
        apps.get_model(label, model)
    except LookupError:
        return False
    return True


def role_group(role: str) -> Any:
    """The group of a staff role (made again if an emptied database lost it)."""
    from django.contrib.auth.models import Group

    name = GROUP_OF_ROLE[role]
    group = Group.objects.filter(name=name).first()
    if group is None:
        role_groups_sync()
        group = Group.objects.get(name=name)
    return group
