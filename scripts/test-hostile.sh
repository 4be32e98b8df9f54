#!/usr/bin/env bash
# Hostile inputs under a memory cap (issue #7, item 5): starts the real server under
# `prlimit --as=<cap>` and sends a corpus of hostile uploads and requests (empty and binary
# files, ragged and huge cells and headers, 10,001 columns, a gzip bomb, a zstd frame asking for a
# 2 TiB window, a 60 MB JSON line, JSON nested 100,000 deep, an xlsx zip bomb and sheets declaring
# every cell, .ods cells repeated to a trillion copies, lying Parquet footers and page
# headers, malformed multipart bodies, a CSV bomb, slow and cut-off clients) from 4 workers,
# each input twice. Every answer must be a 4xx JSON error with a `code` (201 for the inputs
# that are valid), never a 5xx; the server must be alive at the end with no dataset, file or
# spool leftover of the refused inputs. Prints the outcome of each input and the peak RSS.
#
# Alone:   scripts/test-hostile.sh                          (about 1.5-3 minutes once built)
#          scripts/test-hostile.sh --only pq_snappy_page_claims_2g,empty_file
#          scripts/test-hostile.sh --list                   (the corpus)
# The cap: `prlimit --as` limits address space, not RSS, and glibc reserves 64 MiB of address
#   space per malloc arena (up to 8 per core) and tokio 2 MiB per thread. The server runs with
#   MALLOC_ARENA_MAX=2 so that its address space follows its heap; the whole corpus then peaks
#   at 1.0-1.75 GiB of address space (0.5-1.0 GiB RSS) on 2 cores, and the cap is 2 GiB. With
#   glibc's default arenas the same run peaks at 1.9-2.8 GiB (HOSTILE_MALLOC_ARENA_MAX=0
#   HOSTILE_AS_BYTES=3221225472 for that variant).
# Options (environment): HOSTILE_AS_BYTES (default 2147483648), HOSTILE_MALLOC_ARENA_MAX (2),
#   HOSTILE_WORKERS (4), HOSTILE_REPEAT (2), HOSTILE_SEED, HOSTILE_TRACE_VM=1 (log each new peak of
#   the address space with the inputs in flight), DATASETS_API_BIN (skip the build and use this
#   binary), KEEP_WORKDIR=1 (keep the temporary folder; it is always kept on failure). Extra
#   arguments go to tests/hostile/hostile.py.
# Needs: python3, prlimit (util-linux); a virtualenv with requests and pyarrow is created under
#   /var/tmp/datasets-api-reliability/venv (or RELIABILITY_VENV); cargo unless DATASETS_API_BIN.
# Exit status: 0 pass, 1 a check failed, 2 setup error.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"

VENV="${RELIABILITY_VENV:-/var/tmp/datasets-api-reliability/venv}"
if ! "$VENV/bin/python" -c 'import requests, pyarrow' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet requests pyarrow
fi
if [[ " $* " == *" --list "* ]]; then
  exec "$VENV/bin/python" tests/hostile/hostile.py --list
fi
command -v prlimit >/dev/null || { echo "test-hostile needs prlimit (apt-get install util-linux)" >&2; exit 2; }

if [[ -n "${DATASETS_API_BIN:-}" ]]; then
  BIN="$DATASETS_API_BIN"
else
  cargo build --quiet --bin datasets-api
  BIN="$CARGO_TARGET_DIR/debug/datasets-api"
fi
[[ -x "$BIN" ]] || { echo "no server binary at $BIN" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/datasets-api-hostile.XXXXXX")
STATUS=2
cleanup() {
  if [[ -f "$WORK/server.pid" ]]; then
    pid=$(cat "$WORK/server.pid")
    if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$BIN")" ]]; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  if [[ "$STATUS" == 0 && -z "${KEEP_WORKDIR:-}" ]]; then
    rm -rf "$WORK"
  else
    echo "work folder kept: $WORK (server.log, db.sqlite, artifacts/, spool/)" >&2
  fi
}
trap cleanup EXIT

args=(--binary "$BIN" --workdir "$WORK" --as-bytes "${HOSTILE_AS_BYTES:-2147483648}"
      --malloc-arena-max "${HOSTILE_MALLOC_ARENA_MAX:-2}"
      --workers "${HOSTILE_WORKERS:-4}" --repeat "${HOSTILE_REPEAT:-2}")
[[ -n "${HOSTILE_SEED:-}" ]] && args+=(--seed "$HOSTILE_SEED")
set +e
timeout --signal=TERM --kill-after=20 600 "$VENV/bin/python" tests/hostile/hostile.py "${args[@]}" "$@"
STATUS=$?
set -e
exit "$STATUS"
