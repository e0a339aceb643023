"""The connection pool's check of a connection it is about to hand out.

psycopg_pool's own check (Django's, with CONN_HEALTH_CHECKS) sends an empty query on every
checkout: with a connection going back to the pool at the end of each request, that is one
more round trip to the server per request, a fifth of a next item's. A connection given back
less than RECENTLY_RETURNED seconds ago answered its last request then; one idle for longer
(the server may have restarted or dropped it since) is checked as before, and the pool
replaces it if the check fails.
"""

from __future__ import annotations

import time

from psycopg import Connection
from psycopg_pool import ConnectionPool

RECENTLY_RETURNED = 1.0
# The time a connection went back to the pool (config.postgresql.base.DatabaseWrapper).
RETURNED_AT = "_accord_returned_at"


def check_unless_recently_returned(connection: Connection) -> None:
    returned_at = getattr(connection, RETURNED_AT, None)
    if returned_at is not None and time.monotonic() - returned_at < RECENTLY_RETURNED:
        return
    ConnectionPool.check_connection(connection)
