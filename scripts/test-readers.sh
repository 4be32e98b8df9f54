#!/usr/bin/env bash
# Data tools read versions from a running server (tests/readers/read_over_http.py): pandas
# (pyarrow through fsspec's HTTP filesystem) and polars read `download?format=parquet` with
# range requests (the server's log must show 206 answers) and get the exact table; DuckDB
# queries what they read; /query's Parquet and Arrow answers read back in pyarrow.
#
# Alone (from the repo root):  scripts/test-readers.sh
#   Needs: python3 with venv, curl; PyPI for the first run (the venv is kept in
#   /var/tmp/datasets-api-readers/venv and reused; versions pinned in
#   tests/readers/requirements.txt).
#   DATASETS_API_BIN  server binary to test; unset: `cargo build --bin datasets-api` (debug).
# The server runs on a free port of 127.0.0.1 with SQLite and files in a temporary folder,
# and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
READERS_DIR="${READERS_DIR:-/var/tmp/datasets-api-readers}"
VENV="$READERS_DIR/venv"
die() { echo "test-readers: FAIL: $*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  mkdir -p "$READERS_DIR"
  timeout 120 python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
timeout 900 "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/readers/requirements.txt \
  || die "pip install -r tests/readers/requirements.txt failed"

if [[ -n "${DATASETS_API_BIN:-}" ]]; then
  BIN="$DATASETS_API_BIN"
else
  BIN="$CARGO_TARGET_DIR/debug/datasets-api"
  timeout 3600 cargo build --quiet --bin datasets-api || die "cargo build --bin datasets-api failed"
fi

WORK=$(mktemp -d /tmp/datasets-api-readers.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="readers-test-admin-key-$$-$RANDOM"
BASE_URL="http://127.0.0.1:$PORT"
SERVER=
cleanup() {
  local rc=$?
  if [[ -n "$SERVER" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if (( rc != 0 )) && [[ -f "$WORK/server.log" ]]; then
    echo "--- last lines of the server log:" >&2
    tail -20 "$WORK/server.log" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

DATABASE_URL="sqlite://$WORK/db.sqlite" STORAGE_URL="$WORK/artifacts" SPOOL_DIR="$WORK/spool" \
  ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$PORT" LOG_FORMAT=json RUST_LOG=info \
  "$BIN" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do
  curl -fsS -m 2 "$BASE_URL/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || die "the server exited at start"
  sleep 0.2
done
curl -fsS -m 2 "$BASE_URL/health" >/dev/null || die "the server did not answer /health within 30 s"

BASE_URL="$BASE_URL" KEY="$KEY" LOG="$WORK/server.log" timeout 300 "$VENV/bin/python" tests/readers/read_over_http.py \
  || die "read_over_http.py failed"
echo "test-readers: 1 passed, 0 failed"
