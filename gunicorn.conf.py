"""How gunicorn serves Accord: `gunicorn config.wsgi` run from this directory reads this file
(or `gunicorn -c /path/to/gunicorn.conf.py config.wsgi` from elsewhere). Flags given on the
command line take precedence; `WEB_CONCURRENCY` sets the number of worker processes.

- gthread workers: the sync worker closes the connection after every response, so browsers
  could never keep one open; gthread keeps idle kept-alive connections in its poller, not in
  a thread, so 32 annotators need no 32 threads.
- one process per core, 4 threads each: Django's CPU work needs a process per core, and the
  threads cover the waits on the database (PostgreSQL round trips, SQLite's write lock)
  without more memory. A process beyond the cores only takes CPU from the others and from
  the database: on 2 cores with PostgreSQL beside them, 2 workers answered with a shorter
  tail and more answers per second than 3 (bench/fixes.md).
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
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = 4
reuse_port = True
