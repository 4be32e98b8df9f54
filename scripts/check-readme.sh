#!/usr/bin/env bash
# Runs the README's curl walk-through, exactly as written, against a freshly started server
# (debug build, SQLite + a temporary folder, a free port on 127.0.0.1). Fails if any command
# of the walk-through fails.
#
# Alone: scripts/check-readme.sh     Needs: curl, jq.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "check-readme needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --quiet
BIN="$CARGO_TARGET_DIR/debug/datasets-api"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KEY="readme-walkthrough-admin-key-$$"
cleanup() { [[ -n "${SERVER:-}" ]] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$WORK" && BIND_ADDR="127.0.0.1:$PORT" ADMIN_API_KEY="$KEY" exec "$BIN" >"$WORK/server.log" 2>&1) &
SERVER=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done

# The fenced bash block between the walk-through markers of README.md.
awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on' README.md \
  | sed -e '/^```/d' > "$WORK/walkthrough.sh"
[[ -s "$WORK/walkthrough.sh" ]] || { echo "no walk-through found in README.md" >&2; exit 1; }

cd "$WORK"
export BASE_URL="http://127.0.0.1:$PORT" KEY
if bash -euo pipefail walkthrough.sh >"$WORK/out.txt" 2>&1; then
  echo "README walk-through: $(grep -c 'curl' walkthrough.sh) curl commands ran without error"
else
  echo "README walk-through failed:" >&2
  tail -30 "$WORK/out.txt" >&2
  tail -20 "$WORK/server.log" >&2
  exit 1
fi
