"""The staff roles' permission groups (accounts.role_groups), so that a
production install has them without the demo seed."""

from django.db import migrations

from accounts.role_groups import role_groups_sync


def create(apps, schema_editor):
    role_groups_sync(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("workers", "0007_access_log_origin_worker_events_protect"),
        ("devices", "0003_reading_time_brin"),
        ("alerts", "0001_initial"),
    ]

    # Reversing leaves the groups: an administrator may have put people in them.
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
