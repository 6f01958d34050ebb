"""The role groups again, now that the rota, the escalation chains and the
appointment hours exist (site administrators keep them) and safety officers
are a role."""

from django.db import migrations

from accounts.role_groups import role_groups_sync


def sync(apps, schema_editor):
    role_groups_sync(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_role_permission_groups"),
        ("alerts", "0005_notifications_oncall_chains"),
        ("appointments", "0001_appointments"),
        ("workers", "0010_staffrole_safety_officer"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
