#!/usr/bin/env bash
# Webhooks end to end against a running server (tests/webhooks/receive_and_verify.py): a
# receiver on 127.0.0.1 verifies every delivery with the reference `standardwebhooks` Python
# library, unmodified; the first delivery is answered 500 and must arrive again with the same
# `webhook-id`; every event of a dataset's life (created, two versions, an alias moved,
# deleted) must arrive. Then two instances on one PostgreSQL database (a fresh database
# `datasets_api_webhooks` on 127.0.0.1:5432, user postgres) deliver one project's events: every
# event arrives, none is delivered by both at once (tests/webhooks/two_instances.py). Set
# WEBHOOKS_SKIP_POSTGRES=1 to skip that part.
#
# Alone (from the repo root):  scripts/test-webhooks.sh     (under a minute once built)
#   Needs: python3 with venv, curl; PyPI for the first run (the venv is kept in
#   /var/tmp/datasets-api-webhooks/venv and reused; versions pinned in
#   tests/webhooks/requirements.txt).
#   DATASETS_API_BIN  server binary to test; unset: `cargo build --bin datasets-api` (debug).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
WEBHOOKS_DIR="${WEBHOOKS_DIR:-/var/tmp/datasets-api-webhooks}"
VENV="$WEBHOOKS_DIR/venv"
die() { echo "test-webhooks: FAIL: $*" >&2; exit 1; }
say() { echo "test-webhooks: $*"; }

source scripts/lib/test-server.sh
ensure_venv "$VENV" tests/webhooks/requirements.txt
test_server_binary
start_test_server webhooks WEBHOOK_ALLOW_PRIVATE_TARGETS=true WEBHOOK_RETRY_SCHEDULE=1

BASE_URL="$BASE_URL" KEY="$KEY" timeout 120 "$VENV/bin/python" tests/webhooks/receive_and_verify.py \
  || die "receive_and_verify.py failed"
if [[ -n "${WEBHOOKS_SKIP_POSTGRES:-}" ]]; then
  echo "test-webhooks: 1 passed, 0 failed (two instances on PostgreSQL skipped)"
  exit 0
fi

# Two instances on one PostgreSQL database, sharing one artifact folder.
PG_HOST="${PG_HOST:-127.0.0.1}"
DB=datasets_api_webhooks
psql -h "$PG_HOST" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" \
  || die "cannot create the PostgreSQL database $DB"
SHARED=$(mktemp -d /tmp/datasets-api-webhooks-two.XXXXXX)
PIDS=()
stop_two() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$SHARED"
}
trap 'stop_two; stop_test_server' EXIT
BASES=""
for n in 1 2; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env DATABASE_URL="postgres://postgres@$PG_HOST:5432/$DB" STORAGE_URL="$SHARED/artifacts" \
    SPOOL_DIR="$SHARED/spool-$n" ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$port" \
    WEBHOOK_ALLOW_PRIVATE_TARGETS=true WEBHOOK_RETRY_SCHEDULE=1 "$BIN" >"$SHARED/server-$n.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 150); do
    curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null || { tail -20 "$SHARED/server-$n.log" >&2; die "instance $n did not start"; }
  BASES="$BASES http://127.0.0.1:$port"
done
say "two instances on PostgreSQL:$BASES"
BASE_URLS="$BASES" KEY="$KEY" timeout 180 "$VENV/bin/python" tests/webhooks/two_instances.py \
  || die "two_instances.py failed"
echo "test-webhooks: 2 passed, 0 failed"
