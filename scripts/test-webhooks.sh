#!/usr/bin/env bash
# Webhooks end to end against a running server (tests/webhooks/receive_and_verify.py): a
# receiver on 127.0.0.1 verifies every delivery with the reference `standardwebhooks` Python
# library, unmodified; the first delivery is answered 500 and must arrive again with the same
# `webhook-id`; every event of a dataset's life (created, two versions, an alias moved,
# deleted) must arrive.
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

if [[ ! -x "$VENV/bin/python" ]]; then
  mkdir -p "$WEBHOOKS_DIR"
  timeout 120 python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
timeout 900 "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/webhooks/requirements.txt \
  || die "pip install -r tests/webhooks/requirements.txt failed"

source scripts/lib/test-server.sh
test_server_binary
start_test_server webhooks WEBHOOK_ALLOW_PRIVATE_TARGETS=true WEBHOOK_RETRY_SCHEDULE=1

BASE_URL="$BASE_URL" KEY="$KEY" timeout 120 "$VENV/bin/python" tests/webhooks/receive_and_verify.py \
  || die "receive_and_verify.py failed"
echo "test-webhooks: 1 passed, 0 failed"
