"""Readings partitioned by day on PostgreSQL (declarative range partitioning
on measured_at, UTC days); SQLite keeps one table.

The primary key (device, metric, measured_at) already holds the partition
key, so it stays the key of every partition, and ingestion's
ON CONFLICT DO NOTHING keeps working. The per-worker index also carries the
device (INCLUDE), so that every readings index holds the distribution key a
sharded PostgreSQL (Citus) would use (docs/operations.md). The BRIN index
of 0003 goes: retention drops whole partitions instead of scanning by time.

Partitions for the backfill window and the week ahead are created here;
from then on the beat task devices.tasks.maintain_partitions keeps them
ahead (devices.partitions). A DEFAULT partition takes any reading outside
them, so a late partition never refuses a batch; maintenance moves such rows
into their day's partition when it creates it.

Existing readings are copied, within the migration's transaction: on a
large installation run it in a maintenance window.
"""

from django.db import migrations, models

TABLE = "devices_reading"
OLD = "devices_reading_unpartitioned"


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        foreign_keys = cursor.fetchall()
        for name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{name}"')
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        cursor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {OLD}_pkey")
        cursor.execute(f"ALTER INDEX reading_worker_metric_time RENAME TO {OLD}_worker")
        cursor.execute("DROP INDEX IF EXISTS reading_measured_at_brin")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (measured_at)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (device_id, metric, measured_at)")
        cursor.execute(
            f"CREATE INDEX reading_worker_metric_time ON {TABLE} (worker_id, metric, measured_at) INCLUDE (device_id)"
        )
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        # One partition per UTC day from the oldest reading (or the backfill
        # window) to a week ahead.
        cursor.execute(
            f"""
            DO $$
            DECLARE
                today date := (now() AT TIME ZONE 'UTC')::date;
                first date;
                d date;
            BEGIN
                SELECT LEAST(COALESCE(min((measured_at AT TIME ZONE 'UTC')::date), today), today - 8)
                    INTO first FROM {OLD};
                FOR d IN SELECT generate_series(first, today + 7, interval '1 day')::date LOOP
                    EXECUTE format(
                        'CREATE TABLE %I PARTITION OF {TABLE} FOR VALUES FROM (%L) TO (%L)',
                        '{TABLE}_p' || to_char(d, 'YYYYMMDD'),
                        to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00',
                        to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00'
                    );
                END LOOP;
            END $$
            """
        )
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
        cursor.execute(f"DROP TABLE {OLD}")
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [TABLE],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_partitioned")
        cursor.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {TABLE}_partitioned_pkey")
        cursor.execute("ALTER INDEX reading_worker_metric_time RENAME TO reading_worker_metric_time_partitioned")
        cursor.execute(f"CREATE TABLE {TABLE} (LIKE {TABLE}_partitioned INCLUDING DEFAULTS)")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (device_id, metric, measured_at)")
        cursor.execute(f"CREATE INDEX reading_worker_metric_time ON {TABLE} (worker_id, metric, measured_at)")
        cursor.execute(f"CREATE INDEX reading_measured_at_brin ON {TABLE} USING brin (measured_at)")
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE}_partitioned")
        cursor.execute(f"DROP TABLE {TABLE}_partitioned CASCADE")
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


class Migration(migrations.Migration):
    dependencies = [("devices", "0003_reading_time_brin")]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The index's INCLUDE exists on PostgreSQL only (SQLite ignores
            # it, so its index already matches the new definition).
            state_operations=[
                migrations.RemoveIndex(model_name="reading", name="reading_worker_metric_time"),
                migrations.AddIndex(
                    model_name="reading",
                    index=models.Index(
                        fields=["worker", "metric", "measured_at"],
                        include=("device",),
                        name="reading_worker_metric_time",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(partition, unpartition)],
        ),
    ]
