"""How gunicorn serves Accord: `gunicorn config.wsgi` run from this directory reads this file
(or `gunicorn -c /path/to/gunicorn.conf.py config.wsgi` from elsewhere). Flags given on the
command line take precedence; `WEB_CONCURRENCY` sets the number of worker processes.

- gthread workers: the sync worker closes the connection after every response, so browsers
  could never keep one open; gthread keeps idle kept-alive connections in its poller, not in
  a thread, so 32 annotators need no 32 threads.
- one process per core and one more, 4 threads each: Django's CPU work needs a process per
  core, the extra one fills the gaps while a process waits on the database, and threads cover
  those waits (PostgreSQL round trips, SQLite's write lock) without more memory.
  Measured against one per core on 2 cores, the bench's million labels, 3 interleaved rounds:
  on SQLite, whose reads there often wait on the disk, answers at 8 annotators took a median
  of 17-29 ms with the extra worker and 28-44 ms without; with PostgreSQL on the same cores,
  one per core answered 5-10% more items per second at 32 annotators, which does not pay for
  SQLite's loss.
- reuse_port: each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads
  new connections over them. On one shared socket, the worker that wakes first takes most of
  a burst of connections and, as browsers keep them alive, serves them alone while its
  siblings idle: three workers held 32 kept-alive annotators from 32/0/0 at worst to 18/12/2
  at best in six tries, and with reuse_port 16/9/7, 15/9/8 and 12/12/8. In the bench
  (gunicorn, SQLite, interleaved) that took the next item's p95 at 32 kept-alive annotators
  from 233 to 106 ms, its items/s from 355 to 513, and helped at 8 annotators and on new
  connections too (bench/fixes.md).
"""

import os

wsgi_app = "config.wsgi"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
threads = 4
reuse_port = True
