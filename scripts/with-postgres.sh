#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# Starts a throw-away PostgreSQL server for the duration of one command:
#   - a new cluster (initdb) in a fresh temporary directory, from the newest
#     /usr/lib/postgresql/<version>/bin (or $PG_BINDIR if set);
#   - run as the 'postgres' OS user when we are root (PostgreSQL refuses to run as root),
#     as the calling user otherwise;
#   - listening only on 127.0.0.1, on a free port, with test-speed settings (fsync=off, ...);
#   - a superuser role 'accord' (password 'accord') and a database 'accord';
# exports DATABASE_URL=postgres://accord:accord@127.0.0.1:<port>/accord, runs CMD ARGS...,
# then always stops that server (pg_ctl stop -m fast, then its PID) and removes the
# directory, and exits with CMD's exit status.
set -euo pipefail

log() { printf 'with-postgres: %s\n' "$*" >&2; }

if (($# == 0)); then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

# --- PostgreSQL binaries ----------------------------------------------------------------
if [[ -z "${PG_BINDIR:-}" ]]; then
    PG_BINDIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
fi
if [[ -z "$PG_BINDIR" || ! -x "$PG_BINDIR/initdb" || ! -x "$PG_BINDIR/pg_ctl" ]]; then
    log "no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin"
    log "run scripts/install-system-deps.sh (Debian package 'postgresql'), or set PG_BINDIR"
    exit 1
fi
pg_version="$("$PG_BINDIR/postgres" --version | awk '{print $3}')"

# --- who runs the server ------------------------------------------------------------------
run_as_pg=()
if [[ "$(id -u)" -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        log "creating the system user 'postgres'"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    if command -v runuser >/dev/null 2>&1; then
        run_as_pg=(runuser -u postgres --)
    else
        # su needs one command string: quote every argument.
        run_as_pg=(su_postgres)
        su_postgres() { su -s /bin/bash postgres -c "$(printf '%q ' "$@")"; }
    fi
fi
as_pg() { "${run_as_pg[@]}" "$@"; }

# --- temporary directory --------------------------------------------------------------------
# As root the directory goes under /tmp unless $TMPDIR is reachable by 'postgres'.
tmp_base="${TMPDIR:-/tmp}"
if ((${#run_as_pg[@]})) && ! as_pg test -x "$tmp_base" 2>/dev/null; then
    tmp_base=/tmp
fi
pg_tmp="$(mktemp -d "$tmp_base/accord-pg.XXXXXX")"
if ((${#run_as_pg[@]})); then
    chown postgres: "$pg_tmp"
fi
chmod 700 "$pg_tmp"
pg_data="$pg_tmp/data"
pg_log="$pg_tmp/server.log"
pg_pid=""
cleaned=0

# True while a process runs (a zombie waiting to be reaped by PID 1 does not count).
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    [[ -r "/proc/$1/stat" ]] || return 0
    state="$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)"
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

cleanup() {
    ((cleaned)) && return 0
    cleaned=1
    set +e
    if [[ -f "$pg_data/postmaster.pid" ]]; then
        pg_pid="$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null)"
    fi
    if [[ -n "$pg_pid" ]] && alive "$pg_pid"; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1
        # pg_ctl returns once the PID file is gone; the process may need a moment more.
        for _ in $(seq 1 50); do
            alive "$pg_pid" || break
            sleep 0.1
        done
        if alive "$pg_pid"; then
            log "pg_ctl stop failed; killing PID $pg_pid"
            kill -TERM "$pg_pid" 2>/dev/null
            for _ in $(seq 1 50); do
                alive "$pg_pid" || break
                sleep 0.1
            done
            kill -KILL "$pg_pid" 2>/dev/null
        fi
    fi
    rm -rf "$pg_tmp"
}
trap cleanup EXIT
# On a signal: clean up and exit as the shell would have (128 + signal number).
# (A signal that arrives while CMD runs in the foreground is handled when CMD returns;
# Ctrl-C reaches CMD itself, being in the same process group.)
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# --- initdb ---------------------------------------------------------------------------------------
pwfile="$pg_tmp/pwfile"
printf 'accord\n' >"$pwfile"
((${#run_as_pg[@]})) && chown postgres: "$pwfile"
if ! as_pg "$PG_BINDIR/initdb" -D "$pg_data" --username=accord --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
    --no-sync >"$pg_tmp/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$pg_tmp/initdb.log" >&2
    exit 1
fi
rm -f "$pwfile"

# Test-speed settings: durability is worthless for a database that is thrown away.
cat >>"$pg_data/postgresql.conf" <<CONF

# --- scripts/with-postgres.sh: throw-away test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_tmp'
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
archive_mode = off
checkpoint_timeout = '1d'
max_wal_size = '4GB'
autovacuum = off
jit = off
shared_buffers = '128MB'
max_connections = 100
log_min_messages = warning
logging_collector = off
CONF

# --- start on a free port (retry if another process takes the port first) --------------------
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

started=0
for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_pg "$PG_BINDIR/pg_ctl" -D "$pg_data" -l "$pg_log" -o "-p $port" -w -t 60 start \
        >/dev/null 2>&1; then
        started=1
        break
    fi
    log "server did not start on port $port (attempt $attempt)"
done
if ((!started)); then
    log "could not start PostgreSQL; server log:"
    cat "$pg_log" >&2 || true
    exit 1
fi
pg_pid="$(head -n 1 "$pg_data/postmaster.pid")"

if ! as_pg "$PG_BINDIR/createdb" -h "$pg_tmp" -p "$port" -U accord -O accord accord; then
    log "createdb failed"
    exit 1
fi

log "PostgreSQL $pg_version on 127.0.0.1:$port (PID $pg_pid, data in $pg_tmp)"
export DATABASE_URL="postgres://accord:accord@127.0.0.1:$port/accord"

set +e
"$@"
status=$?
set -e
exit "$status"
