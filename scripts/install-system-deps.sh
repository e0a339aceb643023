#!/usr/bin/env bash
# Installs the Debian packages that Accord's tests need, and only those missing:
#   chromium         /usr/bin/chromium, driven by Playwright in the browser tests
#                    (Playwright's own browser download does not work on our machines)
#   postgresql       server binaries under /usr/lib/postgresql/<version>/bin, used by
#                    scripts/with-postgres.sh for the PostgreSQL test run
#   fonts-noto-core, fonts-noto-cjk, fonts-liberation
#                    so every script (Latin, Arabic, Devanagari, CJK, ...) renders in screenshots
#
# Idempotent: when everything is present it only runs a few dpkg-query calls and exits 0.
# 'apt-get update' runs once, and only when something has to be installed.
# No service is started as a side effect: if the machine has no /usr/sbin/policy-rc.d,
# a temporary one that refuses service starts is put in place for the install.
set -euo pipefail

log() { printf 'install-system-deps: %s\n' "$*" >&2; }

# True when a Debian package is installed (status 'ii').
pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

have_postgres_server() {
    local bindir
    for bindir in /usr/lib/postgresql/*/bin; do
        [[ -x "$bindir/initdb" && -x "$bindir/pg_ctl" && -x "$bindir/postgres" ]] && return 0
    done
    return 1
}

missing=()
if ! command -v dpkg-query >/dev/null 2>&1; then
    log "this is not a Debian-based machine (no dpkg-query)."
    log "install by hand: Chromium at /usr/bin/chromium, a PostgreSQL server (initdb, pg_ctl)"
    log "under /usr/lib/postgresql/<version>/bin, and the Noto fonts (core + CJK)."
    exit 1
fi

if ! { [[ -x /usr/bin/chromium ]] && pkg_installed chromium; }; then
    missing+=(chromium)
fi
if ! have_postgres_server; then
    missing+=(postgresql)
fi
for pkg in fonts-noto-core fonts-noto-cjk fonts-liberation; do
    pkg_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "all system dependencies present."
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}"
    log "install them as root with:"
    log "    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (instead of failing on its lock) for up to 10 minutes.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)

# Keep package maintainer scripts from starting services (Debian's postgresql postinst
# would create and start a cluster 'main'; our tests use their own throw-away cluster).
temp_policy=""
cleanup() {
    if [[ -n "$temp_policy" ]]; then
        rm -f "$temp_policy"
    fi
}
trap cleanup EXIT
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    temp_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# temporary, from Accord scripts/install-system-deps.sh\nexit 101\n' >"$temp_policy"
    chmod 755 "$temp_policy"
fi

log "installing: ${missing[*]}"
apt-get "${apt_opts[@]}" update -q
apt-get "${apt_opts[@]}" install -y -q "${missing[@]}"

# Check that what the tests rely on is really there now.
[[ -x /usr/bin/chromium ]] || { log "/usr/bin/chromium is still missing"; exit 1; }
have_postgres_server || { log "no PostgreSQL server binaries under /usr/lib/postgresql"; exit 1; }
log "done."
