#!/usr/bin/env bash
# `/compare` with every drift test, measured as a user meets it: a fresh release server
# (SQLite + files in a temporary folder) is given the benchmark's two CSV files through the
# HTTP API, restarted (so nothing of the uploads stays in its memory), and then asked for
# `/compare?v1=0&v2=1&tests=…` three times (the first in a process that has served nothing
# else): wall time seen by curl, and the server's peak RSS during each call (its kernel peak
# counter is reset through /proc/PID/clear_refs just before). Called by scripts/bench.sh after the
# pipeline benchmark has generated the files; alone:
#   benches/compare_fresh.sh /var/tmp/datasets-api-bench/transactions-500MB.csv \
#                            /var/tmp/datasets-api-bench/transactions-500MB-next.csv
set -euo pipefail
cd "$(dirname "$0")/.."
FIRST=${1:?first CSV}
SECOND=${2:?second CSV}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
cargo build --release --quiet --bin datasets-api
BIN="$CARGO_TARGET_DIR/release/datasets-api"
WORK=$(mktemp -d /var/tmp/datasets-api-compare.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="compare-bench-key-$$-$RANDOM"
URL="http://127.0.0.1:$PORT"
PID=
stop() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap 'stop; rm -rf "$WORK"' EXIT
start() {
  env DATABASE_URL="sqlite://$WORK/db.sqlite" STORAGE_URL="$WORK/artifacts" SPOOL_DIR="$WORK/spool" \
    ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$PORT" MAX_DATASET_UPLOAD_BYTES=2000000000 \
    REQUEST_TIMEOUT_SECONDS=900 "$BIN" >>"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do curl -fsS -m 2 "$URL/health" >/dev/null 2>&1 && return; sleep 0.2; done
  echo "the server did not start" >&2; exit 1
}
mib() { awk -v f="$1" '$1 == f {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }
auth=(-H "Authorization: Bearer $KEY")
start
PROJECT=$(curl -fsS "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"bench"}' "$URL/api/projects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
DATASET=$(curl -fsS "${auth[@]}" -F "project_id=$PROJECT" -F name=transactions -F "file=@$FIRST" "$URL/api/datasets/upload" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dataset_id"])')
curl -fsS -o /dev/null "${auth[@]}" -F "description=next month" -F "file=@$SECOND" "$URL/api/datasets/$DATASET/versions"
# Statistics are computed after each upload, in the background: wait for them (as a server
# that has been up a little while has them), so the calls below measure the comparison only.
for version in 0 1; do curl -fsS -o /dev/null "${auth[@]}" "$URL/api/datasets/$DATASET/analyze?version=$version"; done
stop
start
COMPARE="$URL/api/datasets/$DATASET/compare?v1=0&v2=1&tests=ks,chi2,ztest,psi,jensenshannon,wasserstein"
for run in 1 2 3; do
  before=$(mib VmRSS:)
  echo 5 >"/proc/$PID/clear_refs"
  seconds=$(curl -fsS -o "$WORK/compare.json" -w '%{time_total}' "${auth[@]}" "$COMPARE")
  echo "compare (fresh server, run $run): ${seconds} s, peak RSS $(mib VmHWM:) MiB (resident before ${before} MiB)"
done
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("  ", s["compared_columns"], "columns compared,", len(s["drifted_columns"]), "drifted")' "$WORK/compare.json"
