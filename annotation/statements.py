"""The few INSERT and UPDATE statements of an answer, written in SQL once per process.

A submission writes a handful of rows. Through the ORM each write cost ~350 us of Python
(`create`, `bulk_create`, `save(update_fields=...)`, `QuerySet.update`: building the query,
compiling it, preparing the instances) around ~100 us of database work, and some took two
statements where one does: an INSERT that skips an existing row, then a locking read of it.
An `Insert` is one statement with its ON CONFLICT and RETURNING clauses, whose SQL is
written once per row count; an `Update` sets fields of one row by id. Values are prepared
by their fields as the ORM prepares them (`get_db_prep_save`), and returned columns pass
through the fields' converters, so what is stored and read back is what the ORM would
store and read. Neither fills `auto_now` fields: the caller passes the time.

SQLite (3.35 and later) and PostgreSQL share the syntax used here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import Model

# Statements of up to this many rows keep their SQL (an answer writes a few rows; an import's
# chunk of 500 units would otherwise keep up to 500 texts of up to ~30 KB per statement).
CACHED_ROWS = 32


class _Statement:
    def __init__(self, model: type[Model], fields: Sequence[str]) -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in fields]
        self._sql: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def _cached_sql(self, vendor: str, rows: int, build: Callable[[], str]) -> str:
        if rows > CACHED_ROWS:
            return build()  # an import's chunk: building is nothing beside the statement
        key = (vendor, rows)
        sql = self._sql.get(key)
        if sql is None:
            with self._lock:
                sql = self._sql.setdefault(key, build())
        return sql

    def _prepared(self, row: Sequence[Any], connection: Any) -> list[Any]:
        if len(row) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} values, got {len(row)}")
        return [field.get_db_prep_save(value, connection)
                for field, value in zip(self.fields, row, strict=True)]


class Insert(_Statement):
    """`INSERT INTO <model's table> (<fields>) VALUES (...), ... <tail>`, with `RETURNING
    <returning>` when asked. The tail is SQL (an ON CONFLICT clause) in which `{table}` stands
    for the quoted table name; columns are named as in the database."""

    def __init__(self, model: type[Model], fields: Sequence[str], *, tail: str = "",
                 returning: Sequence[str] = ()) -> None:
        super().__init__(model, fields)
        self.tail = tail
        self.returning = [model._meta.get_field(name) for name in returning]
        # Per database alias: (position, column, converter functions) of returned columns
        # that have any; looked up once, not for every value of every answer.
        self._converters: dict[str, list[tuple[int, Any, list]]] = {}

    def run(self, rows: Sequence[Sequence[Any]], using: str = "default") -> list[tuple]:
        """Insert `rows` (values in the order of the fields); the RETURNING rows, if any,
        with their values converted as the ORM converts them: one for each row inserted or
        updated, none for a row an ON CONFLICT DO NOTHING skipped. Match them to `rows` by
        their columns: SQLite does not promise their order."""
        if not rows:
            return []
        connection = connections[using]
        sql = self._cached_sql(connection.vendor, len(rows), lambda: self._sql_for(
            connection, len(rows)))
        params = [value for row in rows for value in self._prepared(row, connection)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if not self.returning:
                return []
            found = cursor.fetchall()
        return [self._converted(row, connection) for row in found]

    def _sql_for(self, connection: Any, rows: int) -> str:
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        values = ", ".join(["(" + ", ".join(["%s"] * len(self.fields)) + ")"] * rows)
        sql = f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608 - names from the model
        if self.tail:
            sql += " " + self.tail.format(table=table)
        if self.returning:
            sql += " RETURNING " + ", ".join(quote(field.column) for field in self.returning)
        return sql

    def _converted(self, row: tuple, connection: Any) -> tuple:
        converters = self._converters.get(connection.alias)
        if converters is None:
            converters = []
            for position, field in enumerate(self.returning):
                column = field.get_col(self.model._meta.db_table)
                functions = (connection.ops.get_db_converters(column)
                             + column.get_db_converters(connection))
                if functions:
                    converters.append((position, column, functions))
            self._converters[connection.alias] = converters
        if not converters:
            return tuple(row)
        values = list(row)
        for position, column, functions in converters:
            for convert in functions:
                values[position] = convert(values[position], column, connection)
        return tuple(values)


class Update(_Statement):
    """`UPDATE <model's table> SET <fields> WHERE id = %s`."""

    def run(self, pk: int, values: Sequence[Any], using: str = "default") -> int:
        """Set the fields of row `pk` to `values`; how many rows changed (0 or 1)."""
        connection = connections[using]
        sql = self._cached_sql(connection.vendor, 1, lambda: self._sql_for(connection))
        with connection.cursor() as cursor:
            cursor.execute(sql, [*self._prepared(values, connection), pk])
            return cursor.rowcount

    def _sql_for(self, connection: Any) -> str:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in self.fields)
        return (f"UPDATE {quote(self.model._meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
                f"WHERE {quote(self.model._meta.pk.column)} = %s")
