#!/usr/bin/env bash
# Generated Python client test: fetches /openapi.json from a running server, generates a client
# with openapi-python-client (pinned in tests/python-client/requirements.txt), installs it, and
# runs tests/python-client/use_client.py with it, unmodified: checks of the document (unique
# operationIds, summaries, the bearer scheme), then create a project, upload a CSV (multipart),
# read /columns and compare names and dtypes.
# The generator's warnings must be exactly those listed in
# tests/python-client/known-generator-warnings.txt (a new one, or a fixed one still listed, fails).
#
# Alone (from the repo root):  scripts/test-python-client.sh
#   Needs: python3 >= 3.11 with venv, curl; PyPI for the first run (the venv is kept in
#   /var/tmp/datasets-api-pyclient/venv and reused).
#   Settings (environment):
#     DATASETS_API_BIN  server binary to test; unset: `cargo build --bin datasets-api` (debug)
#                       in $CARGO_TARGET_DIR (default /var/tmp/datasets-api-target) and use it
#     PYCLIENT_DIR      where the venv goes (default /var/tmp/datasets-api-pyclient)
#     EXPECT_DTYPES     `name:dtype,...` to expect instead of use_client.py's list (to see it fail)
# The server runs on a free port of 127.0.0.1 with SQLite and files in a temporary folder,
# and is stopped on exit. Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
PYCLIENT_DIR="${PYCLIENT_DIR:-/var/tmp/datasets-api-pyclient}"
VENV="$PYCLIENT_DIR/venv"
HERE=tests/python-client
STARTED=$SECONDS

die() { echo "test-python-client: FAIL: $*" >&2; exit 1; }
say() { echo "test-python-client: $* ($((SECONDS - STARTED)) s)"; }

for tool in curl python3; do
  command -v "$tool" >/dev/null || die "needs $tool"
done
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "needs python3 >= 3.11 (the generated client requires it), found $(python3 --version)"

# 1. The generator, pinned, in its own venv.
source scripts/lib/test-server.sh
ensure_venv "$VENV" "$HERE/requirements.txt"
say "$("$VENV/bin/openapi-python-client" --version)"

# 2. The server.
test_server_binary
start_test_server pyclient

# 3. The document, and a client generated from it.
curl -fsS -m 10 -o "$WORK/openapi.json" "$BASE_URL/openapi.json" || die "GET /openapi.json failed"
if ! cmp -s "$WORK/openapi.json" openapi/openapi.json && \
   ! "$VENV/bin/python" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
       "$WORK/openapi.json" openapi/openapi.json; then
  say "note: the served /openapi.json differs from openapi/openapi.json (the API suite's drift check covers that)"
fi
mkdir -p "$WORK/gen"
set +e
(cd "$WORK/gen" && timeout 300 "$VENV/bin/openapi-python-client" generate --path "$WORK/openapi.json" \
  --meta setup --config "$ROOT/$HERE/generator-config.yml" --output-path "$WORK/gen/client") \
  >"$WORK/generate.log" 2>&1
GEN_RC=$?
set -e
if (( GEN_RC != 0 )) || [[ ! -d "$WORK/gen/client/datasets_api_client" ]]; then
  cat "$WORK/generate.log" >&2
  die "openapi-python-client generate failed (exit $GEN_RC)"
fi
grep -E '^(WARNING|ERROR|Unable to process schema)' "$WORK/generate.log" | sort -u >"$WORK/warnings.txt" || true
{ grep -vE '^(#|$)' "$HERE/known-generator-warnings.txt" || true; } | sort -u >"$WORK/known.txt"
NEW=$(comm -23 "$WORK/warnings.txt" "$WORK/known.txt")
GONE=$(comm -13 "$WORK/warnings.txt" "$WORK/known.txt")
say "client generated; generator warnings: $(wc -l <"$WORK/warnings.txt") (known: $(wc -l <"$WORK/known.txt"))"
if [[ -s "$WORK/warnings.txt" ]]; then
  echo "--- generator warnings (full text):"
  sed -n '/^Warning(s) encountered/,$p' "$WORK/generate.log" | grep -v '^\s*$' | sed 's/^/    /'
fi
GEN_PROBLEM=
if [[ -n "$NEW" ]]; then
  echo "test-python-client: new generator warnings (not in $HERE/known-generator-warnings.txt):" >&2
  echo "$NEW" | sed 's/^/    /' >&2
  GEN_PROBLEM=1
fi
if [[ -n "$GONE" ]]; then
  echo "test-python-client: listed warnings no longer printed (delete them from $HERE/known-generator-warnings.txt):" >&2
  echo "$GONE" | sed 's/^/    /' >&2
  GEN_PROBLEM=1
fi

# Its requirements (httpx, attrs) are the generator's own, already in the venv: install the
# package alone (fast, no download), then let pip check that the versions suit it.
timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  --force-reinstall "$WORK/gen/client" || die "pip install of the generated client failed"
"$VENV/bin/pip" check --disable-pip-version-check >/dev/null \
  || die "the generated client's requirements are not met in $VENV: $("$VENV/bin/pip" check 2>&1)"
say "generated client installed: $("$VENV/bin/python" -c 'import datasets_api_client, os; print(os.path.dirname(datasets_api_client.__file__))')"

# 4. Use it.
set +e
BASE_URL="$BASE_URL" API_KEY="$KEY" timeout 120 "$VENV/bin/python" "$HERE/use_client.py" "$WORK/openapi.json"
USE_RC=$?
set -e
(( USE_RC == 0 )) || die "use_client.py failed (exit $USE_RC; see above)"
[[ -z "$GEN_PROBLEM" ]] || die "the generator's warnings differ from $HERE/known-generator-warnings.txt (see above)"
say "done"
echo "test-python-client: 1 passed, 0 failed"
