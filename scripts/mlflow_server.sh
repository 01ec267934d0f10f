#!/usr/bin/env bash
# Start a shared MLflow tracking server (tracking and model registry) on 127.0.0.1 and print its
# URL on stdout, for `make mlflow-server`, CI and the shared-tracking tests:
#   export SHIPRISK_TRACKING_URI=$(bash scripts/mlflow_server.sh)
#
# Backend store: the database $SHIPRISK_MLFLOW_DATABASE (default shiprisk_mlflow) on the
# throwaway PostgreSQL server of scripts/postgres.sh (same $SHIPRISK_PG_PORT / $SHIPRISK_PG_DIR),
# created when missing; or any database given as $SHIPRISK_MLFLOW_BACKEND_URI.
# Artifacts: served by the server itself (--serve-artifacts) from
# $SHIPRISK_MLFLOW_DIR/artifacts (default /tmp/shiprisk-mlflow), so clients need no access
# to the artifact storage. Port: $SHIPRISK_MLFLOW_PORT (default 5000).
# Host and CORS checks accept only this address (127.0.0.1 and localhost on this port);
# docs/security.md says how to run it for a team (TLS proxy, authentication).
#
# Safe to run again: a server already answering on the port is reused. `stop` as the first
# argument stops the server this script started. Everything but the URL goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${SHIPRISK_MLFLOW_PORT:-5000}"
STATE_DIR="${SHIPRISK_MLFLOW_DIR:-/tmp/shiprisk-mlflow}"
DATABASE="${SHIPRISK_MLFLOW_DATABASE:-shiprisk_mlflow}"
WORKERS="${SHIPRISK_MLFLOW_WORKERS:-1}"
URL="http://127.0.0.1:$PORT"
PID_FILE="$STATE_DIR/server.pid"
LOG_FILE="$STATE_DIR/server.log"

log() { echo "mlflow_server.sh: $*" >&2; }

# Python rather than curl: the one thing a machine that runs shiprisk surely has.
answers() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$URL/health" >/dev/null 2>&1
}

if [ "${1:-}" = "stop" ]; then
  if [ -s "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    log "stopping the server (process group $(cat "$PID_FILE"))"
    group="$(cat "$PID_FILE")"
    kill -- "-$group"
    # It finishes in-flight requests first; the port is free once the whole group is gone.
    for _ in $(seq 60); do
      kill -0 -- "-$group" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL -- "-$group" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  exit 0
fi

if answers; then
  log "reusing the server answering on $URL"
  echo "$URL"
  exit 0
fi

# The venv's mlflow (make install), else the one on PATH; $MLFLOW overrides both.
if [ -z "${MLFLOW:-}" ]; then
  if [ -x .venv/bin/mlflow ]; then MLFLOW=.venv/bin/mlflow; else MLFLOW="$(command -v mlflow)"; fi
fi

if [ -z "${SHIPRISK_MLFLOW_BACKEND_URI:-}" ]; then
  postgres_url="$(SHIPRISK_PG_DATABASE="$DATABASE" bash scripts/postgres.sh)"
  # psycopg 3 is the driver installed with shiprisk; plain postgresql:// would ask for psycopg2.
  SHIPRISK_MLFLOW_BACKEND_URI="postgresql+psycopg://${postgres_url#postgresql://}"
fi

mkdir -p "$STATE_DIR/artifacts"
log "starting mlflow server on $URL (log: $LOG_FILE)"
# Its own session and process group, detached from our stdout: the caller gets the URL back
# at once, and `stop` ends the server with its workers. MLflow's job runner (GenAI jobs;
# seven more processes, over 1 GB) is off: tracking and the registry do not use it.
MLFLOW_DISABLE_TELEMETRY="${MLFLOW_DISABLE_TELEMETRY:-true}" \
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}" \
  setsid "$MLFLOW" server \
  --backend-store-uri "$SHIPRISK_MLFLOW_BACKEND_URI" \
  --serve-artifacts \
  --artifacts-destination "$STATE_DIR/artifacts" \
  --host 127.0.0.1 \
  --port "$PORT" \
  --workers "$WORKERS" \
  --allowed-hosts "127.0.0.1:$PORT,localhost:$PORT" \
  --cors-allowed-origins "http://127.0.0.1:$PORT,http://localhost:$PORT" \
  >"$LOG_FILE" 2>&1 </dev/null &
echo $! >"$PID_FILE"

deadline=$((SECONDS + ${SHIPRISK_MLFLOW_START_TIMEOUT:-120}))
until answers; do
  if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    log "the server exited; the end of its log:"
    tail -n 30 "$LOG_FILE" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "no answer on $URL/health after ${SHIPRISK_MLFLOW_START_TIMEOUT:-120} s; see $LOG_FILE"
    exit 1
  fi
  sleep 0.5
done
echo "$URL"
