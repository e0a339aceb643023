"""ORM queries compiled to SQL once per process and run again with new values.

The queue's requests run a handful of small queries each, whose SQL never changes shape:
the same assignment join, the same progress count, for another annotator or batch. Django
compiles every QuerySet to SQL again on every run, and for these queries that compilation
costs several times the query itself (the next-item join: 1.0 ms of compiling, 0.1 ms of
SQLite). A `CompiledQuery` builds its QuerySet once with marker values, keeps the SQL and the
positions the markers took among the parameters, and later runs that SQL with the caller's
values, turning rows into model instances (with their select_related objects) or tuples the
way QuerySet iteration does.

Only values the ORM passes through unchanged may vary: ints and strs compared for equality
(an `icontains` wraps its value in `%`: refused when compiling, as is a value written into
the SQL text itself). Anything else stays constant inside the builder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.transaction import TransactionManagementError

# Stands for an int value while compiling: within every integer column's range but a small
# one's (ids are 32-bit on auth tables, positive on PositiveIntegerFields; Django refuses an
# out-of-range value with EmptyResultSet), and never a real parameter or id in practice.
_MARKER_INT = 2_147_000_001


@dataclass(frozen=True)
class _Plan:
    database: str
    sql: str
    slots: tuple[tuple[bool, Any], ...]  # (is an argument, argument index or constant)
    converters: list  # (column, (functions, expression)) as SQLCompiler.get_converters
    locks: bool  # SELECT ... FOR UPDATE: only inside a transaction
    # For model instances: (class, start, end, attnames, populators, annotation positions)
    model: Any = None


class CompiledQuery:
    """`build(*values)` returns the QuerySet; `arg_types` are the types of the values (int
    or str). `CompiledQuery.all(*values)` runs it; `first` returns the first row or None."""

    def __init__(self, build: Callable[..., QuerySet], *arg_types: type) -> None:
        if any(t not in (int, str) for t in arg_types):
            raise TypeError("compiled queries take int and str values only")
        self._build, self._arg_types = build, arg_types
        self._plan: _Plan | None = None
        self._lock = threading.Lock()

    def _markers(self) -> list[int | str]:
        return [_MARKER_INT + i if t is int else f"\x00marker-{i}\x00"
                for i, t in enumerate(self._arg_types)]

    def _compile(self) -> _Plan:
        markers = self._markers()
        queryset = self._build(*markers)
        if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
            raise TypeError("compiled queries return model instances or values_list() tuples")
        compiler = queryset.query.get_compiler(using=queryset.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            raise ValueError("a value is out of its column's range (a small integer "
                             "field?): compiled queries vary ids and strings") from None
        slots = []
        for param in params:
            if param in markers:
                slots.append((True, markers.index(param)))
            elif any(isinstance(param, str) and str(m) in param for m in markers):
                raise ValueError(f"the ORM changed a value before passing it: {param!r}")
            else:
                slots.append((False, param))
        missing = [i for i in range(len(markers)) if (True, i) not in slots]
        if missing or any(str(m) in sql for m in markers):
            raise ValueError(f"value(s) {missing or 'some'} did not become parameters")
        fields = [column[0] for column in compiler.select[:compiler.col_count]]
        model = None
        if queryset._iterable_class is ModelIterable:
            info = compiler.klass_info
            start, end = info["select_fields"][0], info["select_fields"][-1] + 1
            model = (info["model"], start, end,
                     [f[0].target.attname for f in compiler.select[start:end]],
                     get_related_populators(info, compiler.select, queryset.db),
                     tuple(compiler.annotation_col_map.items()))
        return _Plan(database=queryset.db, sql=sql, slots=tuple(slots),
                     converters=list(compiler.get_converters(fields).items()),
                     locks=bool(queryset.query.select_for_update
                                and compiler.connection.features.has_select_for_update),
                     model=model)

    def all(self, *values: int | str) -> list:
        if len(values) != len(self._arg_types) or any(
                not isinstance(v, t) or isinstance(v, bool)
                for v, t in zip(values, self._arg_types, strict=True)):
            raise TypeError(f"expected values of types {self._arg_types}, got {values!r}")
        # As plain int and str: a choices enum member is one, but drivers adapt exact types.
        values = tuple(t(v) for v, t in zip(values, self._arg_types, strict=True))
        plan = self._plan
        if plan is None:
            with self._lock:
                plan = self._plan = self._plan or self._compile()
        connection = connections[plan.database]
        if plan.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction.")
        params = [values[v] if is_arg else v for is_arg, v in plan.slots]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        if plan.converters:
            rows = [_converted(row, plan.converters, connection) for row in rows]
        if plan.model is None:
            return [tuple(row) for row in rows]
        model, start, end, attnames, populators, annotations = plan.model
        objects = []
        for row in rows:
            obj = model.from_db(plan.database, attnames, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects

    def first(self, *values: int | str) -> Any:
        rows = self.all(*values)
        return rows[0] if rows else None


def _converted(row: tuple, converters: list, connection: Any) -> list:
    """The row's values as Python values (dates, JSON...), as SQLCompiler.apply_converters
    makes them, with this thread's connection."""
    values = list(row)
    for position, (functions, expression) in converters:
        value = values[position]
        for function in functions:
            value = function(value, expression, connection)
        values[position] = value
    return values
