"""Bulk SQL for the imports, batch creation and the summaries' bulk refresh: the driver's own
cursor and numbered placeholders, for multi-row statements of thousands of parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Model

# Rows per multi-row INSERT: under SQLite's and PostgreSQL's limits on query parameters.
INSERT_CHUNK = 1000


@contextmanager
def pipeline() -> Iterator[None]:
    """On PostgreSQL, psycopg's pipeline mode for the block: the statements of
    bulk_cursor(pipelined=True) inside it go out without waiting, until one that reads results
    (or the end of the block) waits for them all. Elsewhere nothing."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@contextmanager
def bulk_cursor(*, pipelined: bool = False) -> Iterator[Any]:
    """The database driver's own cursor, in the current transaction, for statements of
    thousands of parameters, written with bulk_params / bulk_values. Django's cursor would,
    under DEBUG, render every statement with its parameters for the query log (on SQLite by
    one more query per statement); psycopg's usual cursor parses every statement for its
    %s placeholders in Python. Each cost as much as the INSERT itself.

    `pipelined`, for statements whose results are not read: on PostgreSQL they go out without
    waiting for the one before (psycopg's pipeline mode), so the server runs one while this
    process builds the next; an error is raised by the statement that reads, or at the end."""
    connection.ensure_connection()
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        import psycopg

        cursor = psycopg.RawCursor(connection.connection)  # PostgreSQL's own $1, $2...
    else:
        cursor = connection.connection.cursor()
    try:
        with connection.wrap_database_errors:
            if pipelined and postgresql and not _in_pipeline():
                with connection.connection.pipeline():
                    yield cursor
            else:
                yield cursor
    finally:
        cursor.close()


def bulk_params(count: int) -> list[str]:
    """Placeholders of `count` parameters, numbered from 1, for a bulk_cursor statement."""
    if connection.vendor == "postgresql":
        return [f"${n}" for n in range(1, count + 1)]
    return ["?"] * count


def bulk_values(rows: int, columns: int) -> str:
    """The rows of a multi-row VALUES for a bulk_cursor statement: `rows` rows of `columns`
    parameters each, numbered from 1."""
    return _values(connection.vendor == "postgresql", rows, columns)


@lru_cache(maxsize=64)
def _values(numbered: bool, rows: int, columns: int) -> str:
    if not numbered:
        return ", ".join(["(" + ", ".join(["?"] * columns) + ")"] * rows)
    return ", ".join("(" + ", ".join(f"${row * columns + n}" for n in range(1, columns + 1))
                     + ")" for row in range(rows))


def _in_pipeline() -> bool:
    # A pipeline block of its own would wait for its statements when it ends.
    from psycopg import pq

    return connection.connection.pgconn.pipeline_status != pq.PipelineStatus.OFF


def insert_rows(model: type[Model], fields: tuple[str, ...], rows: list[tuple], *,
                returning_ids: bool = False) -> list[int]:
    """INSERT `rows` (values in the order of `fields`, already adapted for the database)
    into `model`'s table, INSERT_CHUNK rows a statement; with `returning_ids`, the new ids
    in the order of `rows`. Without, the statements are pipelined on PostgreSQL."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    table = quote(model._meta.db_table)
    returning = " RETURNING id" if returning_ids else ""
    ids: list[int] = []
    with bulk_cursor(pipelined=not returning_ids) as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start:start + INSERT_CHUNK]
            # Both backends return the rows of a multi-row VALUES in order (as Django's own
            # bulk_create relies on).
            cursor.execute(f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from the model
                           f"VALUES {bulk_values(len(chunk), len(fields))}{returning}",
                           [value for row in chunk for value in row])
            if returning_ids:
                ids.extend(pk for (pk,) in cursor.fetchall())
    return ids
