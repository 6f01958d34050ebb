"""The tables that every group commit writes carry no index that another
index already provides: each index is written at every insert (and at
every update that cannot stay on its page), for nothing if a longer index
starts with the same columns."""

import pytest
from django.db import connection

from devices.models import Device, EvaluationDue, LateHour, Reading, WindowBucket

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalogue"),
]

# What devices.services._store_postgresql writes.
INGESTION_TABLES = [model._meta.db_table for model in (Reading, WindowBucket, LateHour, EvaluationDue, Device)]


def _indexes(table: str) -> list[tuple[str, tuple[str, ...], bool, bool]]:
    """(name, key columns with their operator class, unique, partial) of
    each index on the table (for a partitioned table, its own indexes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) "
            "FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k), "
            "ARRAY(SELECT o.opcname FROM unnest(x.indclass) WITH ORDINALITY AS c(oid, n) "
            "JOIN pg_opclass o ON o.oid = c.oid ORDER BY c.n), "
            "x.indisunique, x.indpred IS NOT NULL "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
            [table],
        )
        return [
            (
                name,
                tuple(f"{column} {opclass}" for column, opclass in zip(columns, classes, strict=False)),
                unique,
                partial,
            )
            for name, columns, classes, unique, partial in cursor.fetchall()
        ]


def _redundant(indexes: list[tuple[str, tuple[str, ...], bool, bool]]) -> list[str]:
    found = []
    for name, key, unique, partial in indexes:
        if unique or partial:
            continue  # a constraint, or a small index for one query
        for other, other_key, _, other_partial in indexes:
            if other != name and not other_partial and other_key[: len(key)] == key:
                found.append(f"{name} {key} is the start of {other} {other_key}")
    return found


@pytest.mark.parametrize("table", INGESTION_TABLES)
def test_no_index_repeats_the_start_of_another(table):
    indexes = _indexes(table)
    assert indexes, f"{table} has no index"
    assert _redundant(indexes) == []


def test_the_check_finds_a_foreign_key_index_under_a_primary_key():
    # The case it was written for: Django indexes a foreign key by default,
    # and the window buckets' primary key already leads with the worker.
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX redundant_worker ON {WindowBucket._meta.db_table} (worker_id)")
    assert _redundant(_indexes(WindowBucket._meta.db_table)) == [
        "redundant_worker ('worker_id int8_ops',) is the start of devices_windowbucket_pkey "
        "('worker_id int8_ops', 'span int2_ops', 'metric text_ops', 'start timestamptz_ops')"
    ]
