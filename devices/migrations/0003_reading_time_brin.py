"""A BRIN index on readings' measured_at, PostgreSQL only: retention finds
old readings by time across all devices. BRIN stays tiny and costs
ingestion almost nothing because readings arrive roughly in time order; a
B-tree would be a third full index on the hottest table. SQLite (the demo)
scans instead."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS reading_measured_at_brin ON devices_reading USING brin (measured_at)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS reading_measured_at_brin")


class Migration(migrations.Migration):
    dependencies = [("devices", "0002_reading_minute")]
    operations = [migrations.RunPython(create, drop)]
