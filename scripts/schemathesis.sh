#!/usr/bin/env bash
# Property-based API testing with Schemathesis against a real server (debug build, SQLite, a
# temporary folder, 127.0.0.1 on a free port). Seeds a project, a dataset with two versions, a
# user with a key and lineage records, so that authenticated calls reach real code paths: path
# and query ids are drawn from these real ids half of the time, and generated the other half.
#
# Fails (exit 1) on any 5xx, any answer that does not match the OpenAPI document (status code,
# content type, headers, body schema), a 405 without `Allow`, an undocumented method that is
# not answered 405, a request accepted without its key, or a server panic in the log.
#
#   scripts/schemathesis.sh                 # about 3-5 minutes on 2 cores once built
#   MAX_EXAMPLES=200 scripts/schemathesis.sh
#
# Settings (environment): MAX_EXAMPLES (per operation, default 40), BUDGET_SECONDS (hard limit
# for the Schemathesis runs, default 480), SEED (default: random), SCHEMATHESIS (a
# `schemathesis` executable; default: the venv below, created with a pinned version when
# missing), DATASETS_API_BIN (a server binary to test instead of building the debug one),
# KEEP=1 keeps the temporary folder (server log, reports), CHECKS (a comma-separated list, or
# `all`), SCHEMATHESIS_ARGS (more options for `schemathesis run`, e.g.
# `--include-operation-id upload_dataset`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}
SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-40}
BUDGET_SECONDS=${BUDGET_SECONDS:-480}
SEED=${SEED:-$RANDOM$RANDOM}
CHECKS=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance,ignored_auth,negative_data_rejection}

log() { printf '[schemathesis.sh] %s\n' "$*" >&2; }

# --- Schemathesis -------------------------------------------------------------------------
find_schemathesis() {
    if [[ -n "${SCHEMATHESIS:-}" ]]; then echo "$SCHEMATHESIS"; return; fi
    for venv in /var/tmp/datasets-api-bench/venv /var/tmp/datasets-api-schemathesis/venv; do
        if [[ -x "$venv/bin/schemathesis" ]] && "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
            echo "$venv/bin/schemathesis"; return
        fi
    done
    local venv=/var/tmp/datasets-api-schemathesis/venv
    log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv" >&2
    timeout 600 "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2
    echo "$venv/bin/schemathesis"
}
ST=$(find_schemathesis)
log "using $("$ST" --version)"

# --- The server ---------------------------------------------------------------------------
if [[ -n "${DATASETS_API_BIN:-}" ]]; then
    BIN=$DATASETS_API_BIN
else
    log "building the debug binary"
    (cd "$ROOT" && cargo build --quiet --bin datasets-api)
    BIN="$CARGO_TARGET_DIR/debug/datasets-api"
fi

TMP=$(mktemp -d /tmp/datasets-api-schemathesis.XXXXXX)
SERVER_PID=
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
KEY="schemathesis-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
BASE="http://127.0.0.1:$PORT"
mkdir -p "$TMP/spool" "$TMP/artifacts"
env -u DATASETS_API_CONFIG \
    BIND_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$TMP/db.sqlite" STORAGE_URL="$TMP/artifacts" \
    SPOOL_DIR="$TMP/spool" ADMIN_API_KEY="$KEY" RUST_LOG="${RUST_LOG:-warn}" \
    "$BIN" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fsS "$BASE/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; log "the server did not start"; exit 1; }
    sleep 0.2
done
curl -fsS "$BASE/health" >/dev/null || { log "the server does not answer on $BASE"; exit 1; }
log "server on $BASE (pid $SERVER_PID), data in $TMP"

# --- Seed data ----------------------------------------------------------------------------
AUTH="Authorization: Bearer $KEY"
post_json() { curl -fsS -X POST "$BASE$1" -H "$AUTH" -H 'Content-Type: application/json' -d "$2"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

PROJECT=$(post_json /api/projects '{"name": "Schemathesis"}' | field id)
printf 'id,amount,when,flag,label\n1,2.5,2025-01-02,true,a\n2,3.5,2025-01-03,false,b\n3,,2025-01-04,true,a\n' >"$TMP/v0.csv"
printf 'id,amount,when,flag,label\n1,2.5,2025-01-02,true,a\n2,4.5,2025-01-03,false,b\n4,9.0,2025-01-05,true,c\n' >"$TMP/v1.csv"
upload() {
    curl -fsS -X POST "$BASE/api/datasets/upload" -H "$AUTH" -F "project_id=$PROJECT" -F "name=$1" -F "file=@$2" | field dataset_id
}
DATASET=$(upload "Seeded" "$TMP/v0.csv")
DOOMED=$(upload "Deleted by the fuzzer" "$TMP/v0.csv")
VERSION1=$(curl -fsS -X POST "$BASE/api/datasets/$DATASET/versions" -H "$AUTH" \
    -F "description=second" -F "file=@$TMP/v1.csv" | field dataset_version_id)
VERSION0=$(curl -fsS "$BASE/api/datasets/$DATASET/versions" -H "$AUTH" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
curl -fsS -X PUT "$BASE/api/datasets/$DATASET/aliases/production" -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"version": 1}' >/dev/null
curl -fsS -X PUT "$BASE/api/datasets/$DATASET/contract" -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"mode": "warn", "columns": {"amount": {"min": 0}, "label": {"allowed_values": ["a", "b", "c"]}}}' >/dev/null
USER_ID=$(post_json /api/users '{"name": "Fuzz User"}' | field id)
post_json "/api/users/$USER_ID/api-keys" '{}' >/dev/null
post_json "/api/projects/$PROJECT/members" "{\"user_id\": \"$USER_ID\", \"role\": \"viewer\"}" >/dev/null
EXPERIMENT=$(post_json /api/experiments "{\"project_id\": \"$PROJECT\", \"name\": \"Run\", \"dataset_id\": \"$DATASET\", \"target_column\": \"flag\", \"problem_type\": \"classification\", \"status\": \"succeeded\"}" | field id)
MODEL=$(post_json /api/models "{\"name\": \"GBM\", \"algorithm\": \"GBM\", \"experiment_id\": \"$EXPERIMENT\"}" | field id)
post_json /api/deployments "{\"name\": \"scorer\", \"model_id\": \"$MODEL\", \"stage\": \"production\", \"is_active\": true}" >/dev/null
log "seeded project $PROJECT, dataset $DATASET (versions $VERSION0, $VERSION1), user $USER_ID"

checks_toml() {
    if [[ "$CHECKS" == all ]]; then echo "enabled = true"; return; fi
    echo "enabled = false"
    local check
    for check in ${CHECKS//,/ }; do echo "$check.enabled = true"; done
}
cat >"$TMP/schemathesis.toml" <<EOF
[dictionaries.datasets]
values = ["$DATASET"]
[dictionaries.doomed]
values = ["$DOOMED"]
[dictionaries.versions]
values = ["$VERSION0", "$VERSION1"]
[dictionaries.version_numbers]
values = ["0", "1", "production"]
[dictionaries.keys]
values = ["id", "id,label"]
[dictionaries.aliases]
values = ["production", "staging"]
[dictionaries.csv_files]
values = ["a,b\n1,2\n3,4\n", "id;name;when\n1;x;2025-01-02\n2;y;2025-01-03\n", "n\n1\n2\n"]
[dictionaries.projects]
values = ["$PROJECT"]
[dictionaries.users]
values = ["$USER_ID"]
[dictionaries.experiments]
values = ["$EXPERIMENT"]
[dictionaries.models]
values = ["$MODEL"]

[parameters]
"path.dataset_id" = { dictionary = "datasets", probability = 0.5 }
"path.dataset_version_id" = { dictionary = "versions", probability = 0.5 }
"path.project_id" = { dictionary = "projects", probability = 0.5 }
"path.user_id" = { dictionary = "users", probability = 0.5 }
"query.project_id" = { dictionary = "projects", probability = 0.5 }
"query.dataset_id" = { dictionary = "datasets", probability = 0.5 }
"query.experiment_id" = { dictionary = "experiments", probability = 0.5 }
"query.model_id" = { dictionary = "models", probability = 0.5 }
"query.v1" = { dictionary = "version_numbers", probability = 0.5 }
"query.v2" = { dictionary = "version_numbers", probability = 0.5 }
"query.version" = { dictionary = "version_numbers", probability = 0.5 }
"path.alias" = { dictionary = "aliases", probability = 0.5 }
"query.key" = { dictionary = "keys", probability = 0.5 }
"body.project_id" = { dictionary = "projects", probability = 0.5 }
"body.dataset_id" = { dictionary = "datasets", probability = 0.5 }
"body.dataset_version_id" = { dictionary = "versions", probability = 0.5 }
"body.user_id" = { dictionary = "users", probability = 0.5 }
"body.experiment_id" = { dictionary = "experiments", probability = 0.5 }
"body.model_id" = { dictionary = "models", probability = 0.5 }
"body.file" = { dictionary = "csv_files", probability = 0.5 }

# The stateful phase of Schemathesis 4.32.5 can report a request whose every field matches the
# schema as "negative data accepted" (ST201, "Invalid component: positive test case"; seen once
# in six runs, and the same seed passed on rerun): negative data rejection is checked in the
# examples, coverage and fuzzing phases, which generate negative cases deliberately.
[phases.stateful.checks.negative_data_rejection]
enabled = false

# The checks (from CHECKS; set here rather than with --checks, which would override the line
# above: options given on the command line win over every phase's configuration).
[checks]
$(checks_toml)

# Deleting draws from its own dataset, so that the seeded one stays for the other operations.
[[operations]]
include-operation-id = "delete_dataset"
parameters = { "path.dataset_id" = { dictionary = "doomed", probability = 0.5 } }
EOF

# --- Run ----------------------------------------------------------------------------------
log "running: checks $CHECKS; $MAX_EXAMPLES examples per operation; seed $SEED; at most ${BUDGET_SECONDS}s"
set +e
# From inside the temporary folder: Schemathesis keeps a cache (`.schemathesis/`) where it runs.
cd "$TMP"
timeout --kill-after=10 "$BUDGET_SECONDS" \
    "$ST" --config-file "$TMP/schemathesis.toml" run "$BASE/openapi.json" \
    --header "$AUTH" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 2 \
    --suppress-health-check too_slow \
    --request-timeout 60 \
    --generation-database none \
    --no-color \
    --report junit --report-dir "$TMP/report" \
    ${SCHEMATHESIS_ARGS:-} 2>&1 | tee "$TMP/schemathesis.out"
RC=${PIPESTATUS[0]}
set -e

FAILED=0
if [[ "$RC" == 124 || "$RC" == 137 ]]; then
    log "FAIL: Schemathesis did not finish within ${BUDGET_SECONDS}s"
    FAILED=1
elif [[ "$RC" != 0 ]]; then
    log "FAIL: Schemathesis reported failures (exit $RC); reproduce with SEED=$SEED"
    FAILED=1
fi
if grep -q "panicked at" "$TMP/server.log"; then
    log "FAIL: the server panicked:"
    grep -A5 "panicked at" "$TMP/server.log" >&2
    FAILED=1
fi
if ! kill -0 "$SERVER_PID" 2>/dev/null || ! curl -fsS "$BASE/health" >/dev/null 2>&1; then
    log "FAIL: the server is no longer answering"
    FAILED=1
fi
if [[ "$FAILED" == 0 ]]; then
    log "PASS (seed $SEED)"
fi
exit "$FAILED"
