"""Statements that ingestion runs on PostgreSQL with binary parameters.

Django's cursor binds on the client, quoting every element of an array in
Python, and its statement text varies with the number of rows. Ingestion's
statements instead take whole columns as arrays (``unnest``), so the text is
fixed whatever the group's size: PostgreSQL parses and plans it once per
connection, and psycopg sends the arrays in binary (``run_prepared``). The
evaluations' outbox release is written the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

from django.db import connection, transaction
from django.db.models import QuerySet


@contextmanager
def binary_cursor() -> Iterator:
    """A psycopg cursor on Django's connection, its errors Django's."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def run_prepared(statement: str, params: dict) -> list[tuple]:
    """Run one of ingestion's statements of fixed text and return its rows.
    Prepared once per connection (Django prepares nothing: it sets psycopg's
    prepare_threshold to None). Its own transaction, or inside a caller's a
    savepoint: should it fail, the caller's transaction stays usable."""
    within = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with within, binary_cursor() as cursor:
        cursor.execute(statement, params, prepare=True)
        return cursor.fetchall()


def floor_sql(column: str, seconds: int) -> str:
    """SQL for devices.windows.floor_to: the start of the ``seconds``-wide
    step, counted from the epoch, that holds ``column`` (a timestamptz)."""
    return f"date_bin('{seconds} seconds', {column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"


def in_list(values) -> str:
    """A SQL list of string constants (code's own names, e.g. metrics: never
    user input), for ``column IN (...)`` in a statement of fixed text."""
    return ", ".join(f"'{value}'" for value in sorted(values))


def rows_of(values_list: QuerySet) -> Iterable[tuple]:
    """The rows of a ``values_list`` query. On PostgreSQL they come in binary,
    which psycopg decodes in C, where Django's loader for a timestamptz
    parses its text in Python: an evaluation reads thousands of them
    (alerts.selectors.windows_load). The query must need none of Django's
    converters (plain columns: numbers, text, datetimes)."""
    if connection.vendor != "postgresql":
        return values_list
    sql, params = values_list.query.sql_with_params()
    with binary_cursor() as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()
