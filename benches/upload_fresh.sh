#!/usr/bin/env bash
# An upload as a user meets it: each given file is uploaded as a new dataset through the HTTP
# API to a fresh release server (SQLite + files in a temporary folder), RUNS times, each in a
# server that has served nothing else. Prints the wall time seen by curl, the server's CPU time
# during the request and its peak RSS (the kernel's peak counter, reset just before), both read
# as soon as the answer arrives (the version's statistics, computed after it, start then). Called by
# scripts/bench.sh with the benchmark's CSV and its gzip; alone:
#   benches/upload_fresh.sh /var/tmp/datasets-api-bench/transactions-500MB.csv.gz
#   RUNS=5 BIN=/path/to/datasets-api benches/upload_fresh.sh FILE...
# With POLARS_PYTHON set (a Python with polars), each run is preceded by polars reading the same
# file (pl.read_csv(FILE).write_parquet, timed around the work in its own process), and the
# ratio of each pair and their median are printed: on a machine whose speed drifts by a quarter
# within minutes, only pairs run back to back compare.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || { echo "usage: $0 FILE..." >&2; exit 2; }
RUNS=${RUNS:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet --bin datasets-api
  BIN="$CARGO_TARGET_DIR/release/datasets-api"
fi
WORK=$(mktemp -d /var/tmp/datasets-api-upload.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="upload-bench-key-$$-$RANDOM"
URL="http://127.0.0.1:$PORT"
PID=
stop() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap 'stop; rm -rf "$WORK"' EXIT
start() {
  rm -rf "$WORK/state" && mkdir -p "$WORK/state"
  env DATABASE_URL="sqlite://$WORK/state/db.sqlite" STORAGE_URL="$WORK/state/artifacts" SPOOL_DIR="$WORK/state/spool" \
    ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$PORT" MAX_DATASET_UPLOAD_BYTES=2000000000 \
    REQUEST_TIMEOUT_SECONDS=900 "$BIN" >>"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -fsS -m 2 "$URL/health" >/dev/null 2>&1 && return; sleep 0.2; done
  echo "the server did not start" >&2; exit 1
}
mib() { awk -v f="$1" '$1 == f {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
# utime + stime of the server, in seconds.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$PID/stat"; }
auth=(-H "Authorization: Bearer $KEY")
# polars reading FILE into a Parquet file: its seconds, timed inside its process.
polars_seconds() {
  "$POLARS_PYTHON" -c '
import sys, time, polars as pl
t = time.perf_counter()
pl.read_csv(sys.argv[1]).write_parquet(sys.argv[2])
print(f"{time.perf_counter() - t:.3f}")' "$1" "$WORK/polars.parquet"
  rm -f "$WORK/polars.parquet"
}
for file in "$@"; do
  ratios=()
  for run in $(seq 1 "$RUNS"); do
    [[ -n "${POLARS_PYTHON:-}" ]] && polars=$(polars_seconds "$file")
    start
    project=$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"bench"}' "$URL/api/projects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    before=$(mib VmRSS:)
    cpu_before=$(cpu)
    echo 5 >"/proc/$PID/clear_refs"
    seconds=$(curl -fsS -o "$WORK/upload.json" -w '%{time_total}' "${auth[@]}" -F "project_id=$project" \
      -F name=bench -F "file=@$file" "$URL/api/datasets/upload")
    cpu_after=$(cpu)
    hash=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["content_hash"][:19])' "$WORK/upload.json")
    echo "upload $(basename "$file") (fresh server, run $run): ${seconds} s, server CPU $(awk -v a="$cpu_after" -v b="$cpu_before" 'BEGIN {printf "%.2f", a - b}') s, peak RSS $(mib VmHWM:) MiB (resident before ${before} MiB), $hash…"
    if [[ -n "${POLARS_PYTHON:-}" ]]; then
      ratios+=("$(awk -v p="$polars" -v s="$seconds" 'BEGIN {printf "%.2f", p / s}')")
      echo "  polars read_csv -> write_parquet just before: ${polars} s, ratio ${ratios[-1]}x (> 1: the upload is faster)"
    fi
    stop
  done
  if ((${#ratios[@]} > 0)); then
    echo "  median ratio to polars over ${#ratios[@]} pairs: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}')x"
  fi
done
