"""Django's SQLite backend, with the process's writers queued on a lock instead of SQLite's
busy handler.

Every transaction begins IMMEDIATE (config/settings.py), taking the database's write lock. A
writer that finds it taken sleeps in SQLite's busy handler, 1 ms then longer and longer, up to
100 ms a try, and whoever asks at the moment the lock is free gets it. So the writer that
has just committed often wins again while the others sleep: with 8 annotators answering on
`make demo`'s server the median answer took 17-23 ms and the 95th percentile 165-340 ms. Here
the threads of a process wait their turn on a lock of their own first: p50 70 ms, p95 90 ms.

Only where one process does nearly all the writing: `make demo`'s runserver turns it on
(`queue_writers_in_process`). Among several processes, gunicorn's workers, the
process whose writer commits hands the database straight to its next writer while the other
processes' writers sleep in SQLite's handler: at 32 annotators the 95th percentile went from
473-494 ms to 618-943 ms. There SQLite's handler arbitrates between every writer, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db.backends.sqlite3 import base

_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()
_queue_writers = False


def queue_writers_in_process() -> None:
    """Have this process's writers take turns on its lock before BEGIN (see above)."""
    global _queue_writers  # noqa: PLW0603 (one switch per process, set at start-up)
    _queue_writers = True


def writer_lock(database: str) -> threading.Lock:
    """The lock this process's writers of `database` (a file name) take before BEGIN."""
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(database, threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    # The writer lock while this connection's transaction holds it.
    _held_writer_lock: threading.Lock | None = None

    def _start_transaction_under_autocommit(self) -> None:
        if not _queue_writers:
            super()._start_transaction_under_autocommit()
            return
        lock = writer_lock(str(self.settings_dict["NAME"]))
        # As long as SQLite's own busy timeout; past it, BEGIN waits on SQLite as before.
        if lock.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            self._held_writer_lock = lock
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self) -> None:
        lock, self._held_writer_lock = self._held_writer_lock, None
        if lock is not None:
            lock.release()

    # The transaction ends by commit, rollback or the connection closing; each lets go.
    def _commit(self) -> None:
        self._end_transaction(super()._commit)

    def _rollback(self) -> None:
        self._end_transaction(super()._rollback)

    def _close(self) -> None:
        self._end_transaction(super()._close)

    def _end_transaction(self, end: Callable[[], object]) -> None:
        try:
            end()
        finally:
            self._release_writer_lock()
