#!/usr/bin/env bash
# Swagger UI browser test: uploads a CSV through /docs in headless Chromium, as a person would
# (Authorize with the bearer key, expand "POST /api/datasets/upload", Try it out, fill the
# form, pick the file, Execute), asserts the response section shows 201 with the new dataset,
# then checks through the API (curl) that the dataset exists with the uploaded rows and columns.
#
# Alone (from the repo root):  scripts/test-swagger-ui.sh
#   Needs: curl, jq, node >= 20 + npm; installs Debian's chromium with apt-get when
#   /usr/bin/chromium is missing (sudo when not root), and playwright-core (pinned in
#   tests/browser/package-lock.json) into tests/browser/node_modules with `npm ci`.
#   Settings (environment):
#     DATASETS_API_BIN  server binary to test; unset: `cargo build --bin datasets-api` (debug)
#                       in $CARGO_TARGET_DIR (default /var/tmp/datasets-api-target) and use it
#     ARTIFACTS_DIR     where the screenshot goes (default target/test-artifacts):
#                       $ARTIFACTS_DIR/swagger-ui-upload.png (and -failure.png on a failure)
#     CHROMIUM          browser binary (default /usr/bin/chromium)
#     EXPECT_STATUS     status the test expects Swagger UI to show (default 201; set another
#                       value to see the test fail)
# The server runs on a free port of 127.0.0.1 with SQLite and files in a temporary folder,
# and is stopped on exit. Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
ARTIFACTS_DIR="${ARTIFACTS_DIR:-target/test-artifacts}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
SCREENSHOT="$ARTIFACTS_DIR/swagger-ui-upload.png"
[[ "$SCREENSHOT" = /* ]] || SCREENSHOT="$ROOT/$SCREENSHOT"
STARTED=$SECONDS

die() { echo "test-swagger-ui: FAIL: $*" >&2; exit 1; }
say() { echo "test-swagger-ui: $* ($((SECONDS - STARTED)) s)"; }

for tool in curl jq node npm; do
  command -v "$tool" >/dev/null || die "needs $tool (curl, jq: apt-get install curl jq; node >= 20 with npm)"
done
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
(( NODE_MAJOR >= 20 )) || die "needs node >= 20 for playwright-core, found $(node --version)"

# 1. Chromium from Debian (Playwright's own browser downloads are not used).
if [[ ! -x "$CHROMIUM" ]]; then
  [[ "$CHROMIUM" = /usr/bin/chromium ]] || die "CHROMIUM=$CHROMIUM is not an executable"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "/usr/bin/chromium is missing; install Debian's chromium as root (apt-get install chromium)"
    SUDO=(sudo)
  fi
  say "installing Debian's chromium with apt-get"
  timeout 300 "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 900 "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    chromium fonts-liberation >/dev/null || die "apt-get install chromium failed"
  [[ -x "$CHROMIUM" ]] || die "apt-get installed chromium but $CHROMIUM is still missing"
fi
say "browser: $("$CHROMIUM" --version 2>/dev/null | head -1)"

# 2. playwright-core, exactly as locked.
timeout 300 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null \
  || die "npm ci in tests/browser failed"
say "playwright-core $(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version')"

# 3. The server.
if [[ -n "${DATASETS_API_BIN:-}" ]]; then
  BIN="$DATASETS_API_BIN"
else
  BIN="$CARGO_TARGET_DIR/debug/datasets-api"
  say "cargo build --bin datasets-api (a no-op when up to date)"
  timeout 3600 cargo build --quiet --bin datasets-api || die "cargo build --bin datasets-api failed"
fi
[[ -x "$BIN" ]] || die "server binary $BIN is missing (set DATASETS_API_BIN or build it)"

WORK=$(mktemp -d /tmp/datasets-api-swagger-ui.XXXXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
KEY="swagger-ui-test-admin-key-$$-$RANDOM"
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
  ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$PORT" SWEEP_INTERVAL_SECONDS=3600 \
  "$BIN" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do
  curl -fsS -m 2 "$BASE_URL/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || die "the server exited at start"
  sleep 0.2
done
curl -fsS -m 2 "$BASE_URL/health" >/dev/null || die "the server did not answer /health within 30 s"
say "server $BIN on $BASE_URL"

# 4. The browser test.
printf 'amount,merchant,is_fraud\n29.99,ACME Corp,0\n1250.00,Luxury Ltd,1\n7.50,ACME Corp,0\n' >"$WORK/transactions.csv"
rm -f "$SCREENSHOT" "${SCREENSHOT%.png}-failure.png"
set +e
BASE_URL="$BASE_URL" API_KEY="$KEY" CSV_FILE="$WORK/transactions.csv" SCREENSHOT="$SCREENSHOT" \
  CHROMIUM="$CHROMIUM" EXPECT_STATUS="${EXPECT_STATUS:-201}" \
  timeout 180 node tests/browser/swagger-upload.mjs 2>&1 | tee "$WORK/browser.log"
BROWSER_RC=${PIPESTATUS[0]}
set -e
(( BROWSER_RC == 0 )) || die "the Swagger UI upload failed (exit $BROWSER_RC; see above)"
[[ -s "$SCREENSHOT" ]] || die "no screenshot at $SCREENSHOT"
say "screenshot: $SCREENSHOT"

# 5. Independently, through the API: the dataset exists, with the uploaded rows and columns.
DATASET_ID=$(sed -n 's/^DATASET_ID=//p' "$WORK/browser.log")
DATASET_NAME=$(sed -n 's/^DATASET_NAME=//p' "$WORK/browser.log")
[[ -n "$DATASET_ID" && -n "$DATASET_NAME" ]] || die "the browser test printed no DATASET_ID/DATASET_NAME"
AUTH="Authorization: Bearer $KEY"
DETAIL=$(curl -fsS -m 10 "$BASE_URL/api/datasets/$DATASET_ID" -H "$AUTH") \
  || die "GET /api/datasets/$DATASET_ID failed after the Swagger UI upload"
jq -e --arg id "$DATASET_ID" --arg name "$DATASET_NAME" \
  '.dataset.id == $id and .dataset.name == $name and .dataset.rows == 3 and .dataset.columns == 3' \
  <<<"$DETAIL" >/dev/null || die "the dataset read through the API is not the one uploaded: $DETAIL"
COLUMNS=$(curl -fsS -m 10 "$BASE_URL/api/datasets/$DATASET_ID/columns" -H "$AUTH") \
  || die "GET /api/datasets/$DATASET_ID/columns failed"
jq -e '[.columns[] | .name] == ["amount", "merchant", "is_fraud"]' <<<"$COLUMNS" >/dev/null \
  || die "unexpected columns: $COLUMNS"
say "API check: dataset $DATASET_ID \"$DATASET_NAME\" exists, 3 rows, columns $(jq -c '[.columns[] | "\(.name):\(.dtype)"]' <<<"$COLUMNS")"
echo "test-swagger-ui: 1 passed, 0 failed"
