"""Room on each page for the rows ingestion updates in place (PostgreSQL).

Ingestion's group commit adds to the risk engine's window buckets with
``INSERT ... ON CONFLICT DO UPDATE`` (a bucket is updated by every batch
until its 5 seconds or its minute are over), and bumps the evaluation
outbox. On full pages each of those updates writes its new row version to
another page and a new entry into every index; with free room on the page it
is a heap-only (HOT) update: no index write, and the old version is pruned
in place. New rows fill pages to the fillfactor only.
"""

from django.db import migrations

TABLES = {"devices_windowbucket": 50, "devices_evaluationdue": 50}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, fillfactor in TABLES.items():
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("devices", "0008_late_hours")]

    operations = [migrations.RunPython(forward, backward)]
