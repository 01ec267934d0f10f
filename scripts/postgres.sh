#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the store's tests and print its URL on stdout.
#
# Installs Debian's postgresql when it is missing, creates a cluster in $SHIPRISK_PG_DIR
# (default /tmp/shiprisk-postgres) listening on 127.0.0.1:$SHIPRISK_PG_PORT (default 5432)
# with a `shiprisk` user and database ($SHIPRISK_PG_DATABASE, default shiprisk, created when
# missing, so another database on the same server is one variable away), and prints
#   postgresql://shiprisk:shiprisk@127.0.0.1:5432/shiprisk
# Used by .ci/run:  export SHIPRISK_TEST_POSTGRES_URL=$(scripts/postgres.sh)
# Everything but the URL goes to stderr. Safe to run again: a running server is reused.
set -euo pipefail

DATA_DIR="${SHIPRISK_PG_DIR:-/tmp/shiprisk-postgres}"
PORT="${SHIPRISK_PG_PORT:-5432}"
USER_NAME=shiprisk
PASSWORD=shiprisk
DATABASE="${SHIPRISK_PG_DATABASE:-shiprisk}"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(find_bin)" ]; then
  log "installing postgresql (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y postgresql >&2
fi
BIN="$(find_bin)"

# The server refuses to run as root: run it as the postgres system user when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [ ! -s "$DATA_DIR/PG_VERSION" ]; then
    log "creating a cluster in $DATA_DIR"
    mkdir -p "$DATA_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DATA_DIR"; fi
    chmod 700 "$DATA_DIR"
    as_owner "'$BIN/initdb' -D '$DATA_DIR' -U postgres -A trust -E UTF8 --no-locale" >&2
  fi
  log "starting the server on 127.0.0.1:$PORT"
  as_owner "'$BIN/pg_ctl' -D '$DATA_DIR' -l '$DATA_DIR/server.log' -w -t 60 \
    -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$DATA_DIR'\" start" >&2
fi

psql_admin() {
  as_owner "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt -c \"$1\""
}
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$USER_NAME'")" != "1" ]; then
  psql_admin "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
  psql_admin "CREATE DATABASE $DATABASE OWNER $USER_NAME" >&2
fi
echo "postgresql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
