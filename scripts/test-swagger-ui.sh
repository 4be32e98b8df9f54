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

# 1–2. Node.js, Chromium from Debian, playwright-core exactly as locked.
source scripts/lib/browser.sh
ensure_browser_tools jq

# 3. The server.
source scripts/lib/test-server.sh
test_server_binary
start_test_server swagger-ui SWEEP_INTERVAL_SECONDS=3600

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
