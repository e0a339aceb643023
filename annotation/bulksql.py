"""Bulk SQL for the imports and the summaries' bulk refresh: the driver's own cursor and
numbered placeholders, for multi-row statements of thousands of parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from django.db import connection


@contextmanager
def bulk_cursor() -> Iterator[Any]:
    """The database driver's own cursor, in the current transaction, for statements of
    thousands of parameters, written with bulk_params / bulk_values. Django's cursor would,
    under DEBUG, render every statement with its parameters for the query log (on SQLite by
    one more query per statement); psycopg's usual cursor parses every statement for its
    %s placeholders in Python. Each cost as much as the INSERT itself."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        import psycopg

        cursor = psycopg.RawCursor(connection.connection)  # PostgreSQL's own $1, $2...
    else:
        cursor = connection.connection.cursor()
    try:
        with connection.wrap_database_errors:
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
