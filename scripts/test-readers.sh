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
say() { echo "test-readers: $*"; }

source scripts/lib/test-server.sh
ensure_venv "$VENV" tests/readers/requirements.txt
test_server_binary
start_test_server readers LOG_FORMAT=json RUST_LOG=info

BASE_URL="$BASE_URL" KEY="$KEY" LOG="$WORK/server.log" timeout 300 "$VENV/bin/python" tests/readers/read_over_http.py \
  || die "read_over_http.py failed"
echo "test-readers: 1 passed, 0 failed"
