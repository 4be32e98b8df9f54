#!/usr/bin/env bash
# The web UI (/ui) in headless Chromium: tests/browser/ui.mjs signs in, uploads through the UI
# with the progress bar seen, checks the dataset, columns (histograms against /analyze),
# compare, rows and lineage pages against the API, renders hostile names and cells as text,
# runs axe-core on every page and times the dataset page of a 100-column dataset.
#
# Alone (from the repo root):  scripts/test-ui.sh
#   Needs: curl, node >= 20 + npm; installs Debian's chromium with apt-get when /usr/bin/chromium
#   is missing (sudo when not root), and playwright-core and axe-core (pinned in
#   tests/browser/package-lock.json) with `npm ci`.
#   Settings (environment):
#     DATASETS_API_BIN  server binary to test; unset: the debug build in $CARGO_TARGET_DIR
#                       (default /var/tmp/datasets-api-target), built when stale
#     ARTIFACTS_DIR     where the screenshots (ui-*.png, ui-failure.png on a failure) and
#                       ui-timings.json go (default target/test-artifacts)
#     CHROMIUM          browser binary (default /usr/bin/chromium)
# The server runs on a free port of 127.0.0.1 with SQLite and files in a temporary folder and
# is stopped on exit; the browser test is bounded to 7 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
ARTIFACTS_DIR="${ARTIFACTS_DIR:-target/test-artifacts}"
[[ "$ARTIFACTS_DIR" = /* ]] || ARTIFACTS_DIR="$ROOT/$ARTIFACTS_DIR"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
STARTED=$SECONDS

die() { echo "test-ui: FAIL: $*" >&2; exit 1; }
say() { echo "test-ui: $* ($((SECONDS - STARTED)) s)"; }

# 1–2. Node.js, Chromium from Debian, playwright-core and axe-core exactly as locked.
source scripts/lib/browser.sh
ensure_browser_tools

# 3. The server.
source scripts/lib/test-server.sh
test_server_binary
start_test_server ui SWEEP_INTERVAL_SECONDS=3600
mkdir -p "$ARTIFACTS_DIR"
rm -f "$ARTIFACTS_DIR"/ui-*.png "$ARTIFACTS_DIR/ui-timings.json"

# 4. The browser test.
BASE_URL="$BASE_URL" API_KEY="$KEY" WORK="$WORK" ARTIFACTS_DIR="$ARTIFACTS_DIR" CHROMIUM="$CHROMIUM" \
  timeout 480 node tests/browser/ui.mjs || die "the UI test failed (screenshot: $ARTIFACTS_DIR/ui-failure.png)"
for page in sign-in datasets upload dataset columns compare rows lineage hostile; do
  [[ -s "$ARTIFACTS_DIR/ui-$page.png" ]] || die "no screenshot of the $page page"
done
say "passed; screenshots in $ARTIFACTS_DIR"
