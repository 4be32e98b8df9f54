#!/usr/bin/env bash
# Crash safety (issue #7, item 2): uploads a seeded series of CSV files (new datasets and new
# versions, up to ~5 MB) from two client threads while SIGKILLing and restarting the real
# server at random moments; then restarts it with SWEEP_GRACE_SECONDS=1 and checks that every
# acknowledged upload is intact, that nothing unacknowledged or partial is visible, and that
# the artifact folder and SPOOL_DIR hold nothing unreferenced. Prints the seed and a summary.
#
# Alone:   scripts/test-crash.sh                 (about 30-60 s once the binary is built)
#          CRASH_SEED=1234 scripts/test-crash.sh (replay a series; kill moments still vary)
# Options (environment): CRASH_SEED, CRASH_UPLOADS (40), CRASH_THREADS (2), CRASH_MAX_KILLS (15),
#   DATASETS_API_BIN (skip the build and use this binary), KEEP_WORKDIR=1 (keep the temporary
#   folder: server log, database, artifacts, files sent; it is always kept on failure).
# Needs: python3 (a virtualenv with requests and pyarrow is created under
#   /var/tmp/datasets-api-reliability/venv, or RELIABILITY_VENV), cargo unless DATASETS_API_BIN.
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"

if [[ -n "${DATASETS_API_BIN:-}" ]]; then
  BIN="$DATASETS_API_BIN"
else
  cargo build --quiet --bin datasets-api
  BIN="$CARGO_TARGET_DIR/debug/datasets-api"
fi
[[ -x "$BIN" ]] || { echo "no server binary at $BIN" >&2; exit 2; }

VENV="${RELIABILITY_VENV:-/var/tmp/datasets-api-reliability/venv}"
if ! "$VENV/bin/python" -c 'import requests, pyarrow' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet requests pyarrow
fi

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/datasets-api-crash.XXXXXX")
STATUS=2
cleanup() {
  # The test stops its server; this is the safety net if it was itself killed.
  if [[ -f "$WORK/server.pid" ]]; then
    pid=$(cat "$WORK/server.pid")
    if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$BIN")" ]]; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  if [[ "$STATUS" == 0 && -z "${KEEP_WORKDIR:-}" ]]; then
    rm -rf "$WORK"
  else
    echo "work folder kept: $WORK (server.log, db.sqlite, artifacts/, sent/)" >&2
  fi
}
trap cleanup EXIT

args=(--binary "$BIN" --workdir "$WORK" --uploads "${CRASH_UPLOADS:-40}"
      --threads "${CRASH_THREADS:-2}" --max-kills "${CRASH_MAX_KILLS:-15}")
[[ -n "${CRASH_SEED:-}" ]] && args+=(--seed "$CRASH_SEED")
set +e
timeout --signal=TERM --kill-after=20 600 "$VENV/bin/python" tests/crash/crash_test.py "${args[@]}"
STATUS=$?
set -e
exit "$STATUS"
