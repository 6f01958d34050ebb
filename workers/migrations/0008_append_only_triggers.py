"""On PostgreSQL, the access log, the consent history and the worker events
refuse UPDATE and DELETE from anyone, the application's own database role
included: a row-level trigger raises. (TRUNCATE, which only the tables'
owner may run, is not a row change: a test database is still emptied
between tests.) On SQLite nothing is created: the models refuse save() of
an existing row and delete() there, and the foreign keys PROTECT.
"""

from django.db import migrations

TABLES = ("workers_accesslog", "workers_consent", "workers_workerevent")

FUNCTION = """
CREATE OR REPLACE FUNCTION healthhub_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'healthhub: % on % is refused: rows of this table are never changed or deleted', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # No parameters: the % in RAISE are plpgsql placeholders, not the driver's.
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION healthhub_append_only()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS healthhub_append_only()")


class Migration(migrations.Migration):
    dependencies = [("workers", "0007_access_log_origin_worker_events_protect")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
