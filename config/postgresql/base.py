"""Django's PostgreSQL backend (psycopg 3), safe for server-side parameter binding.

With OPTIONS server_side_binding, every parameter travels in the protocol's Bind message,
which holds at most 65,535 of them: a statement with more fails ("number of parameters must
be between 0 and 65535"), where client-side binding (Django's default) would have inlined
them. Two changes keep every statement working:

- DatabaseOperations.bulk_batch_size is bounded, as on SQLite and Oracle, so the ORM's own
  batched statements stay under the limit: the deletion Collector's lookups of related rows,
  bulk_create (rows x fields) and in_bulk (through features.max_query_params).
- Any statement that still has more parameters (filter(pk__in=<70,000 ids>), a prefetch over
  more rows, bulk_update, whose CASE needs two parameters per field and object where Django
  counts one, raw SQL) has them inlined by psycopg's client-side binding, for that statement
  only: exactly what Django does for every statement without server_side_binding.
"""

from __future__ import annotations

import time
from itertools import chain

from django.db import models
from django.db.backends.postgresql import base, features, operations
from django.utils.functional import cached_property
from psycopg import ClientCursor, ServerCursor
from psycopg_pool import ConnectionPool

from .pool import RETURNED_AT, check_unless_recently_returned

# The protocol's Bind message counts its parameters in 16 bits.
MAX_QUERY_PARAMS = 65_535


def _inline_if_too_many(cursor, query, params):
    """(query, params), or the query with its parameters inlined client-side and no params
    when they are more than a statement may carry."""
    if params is not None and len(params) > MAX_QUERY_PARAMS:
        return ClientCursor(cursor.connection).mogrify(query, params), None
    return query, params


class BoundedServerBindingCursor(base.ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        inlined_query, params = _inline_if_too_many(self, query, params)
        if inlined_query is not query:
            prepare = False  # a one-off statement of a megabyte: never worth preparing
        return super().execute(inlined_query, params, prepare=prepare, binary=binary)


class BoundedServerCursor(ServerCursor):
    """Named cursors (QuerySet.iterator()) bind server-side too: same bound."""

    def execute(self, query, params=None, *, binary=None, **kwargs):
        query, params = _inline_if_too_many(self, query, params)
        return super().execute(query, params, binary=binary, **kwargs)


class DatabaseFeatures(features.DatabaseFeatures):
    @cached_property
    def max_query_params(self):
        # Client-side binding inlines the parameters: no limit then.
        return MAX_QUERY_PARAMS if self.uses_server_side_binding else None


class DatabaseOperations(operations.DatabaseOperations):
    def bulk_batch_size(self, fields, objs):
        """Objects per statement, for `fields` parameters per object (as Oracle's)."""
        limit = self.connection.features.max_query_params
        fields = list(chain.from_iterable(
            field.fields if isinstance(field, models.CompositePrimaryKey) else [field]
            for field in fields))
        if limit and fields:
            return max(limit // len(fields), 1)
        return super().bulk_batch_size(fields, objs)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.ServerBindingCursor:
            params["cursor_factory"] = BoundedServerBindingCursor
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.features.uses_server_side_binding:
            connection.server_cursor_factory = BoundedServerCursor
        return connection

    @property
    def pool(self):
        pool = super().pool
        # With CONN_HEALTH_CHECKS Django gives the pool psycopg_pool's own check, a round
        # trip on every checkout; ours skips connections back a moment ago (pool.py). Django
        # always passes check= itself, so OPTIONS["pool"] cannot carry ours (TypeError).
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_unless_recently_returned
        return pool

    def _close(self):
        # When it went back to the pool, for the pool's check (config/postgresql/pool.py).
        if self.pool and self.connection is not None:
            setattr(self.connection, RETURNED_AT, time.monotonic())
        super()._close()
