#!/usr/bin/env bash
# Long fuzzing run of the CSV path: the proptest properties of
# src/adapters/formats/fuzz_tests.rs (sniffer, encoding detection, type inference, whole CSV
# ingest on arbitrary bytes and near-CSV text) with many cases. `cargo test` runs the same
# properties with a few cases each.
#
#   scripts/fuzz.sh                          # PROPTEST_CASES=6000 (1-3 minutes on 2 cores), at most 300 s
#   FUZZ_CASES=20000 FUZZ_SECONDS=900 scripts/fuzz.sh
#   PROPTEST_RNG_SEED=42 scripts/fuzz.sh     # a fixed seed (the default is random)
#
# A failure prints the shrunk input and is saved under proptest-regressions/ (commit that file:
# later runs try it first). Exceeding the time limit is a failure too (a hang, or too many
# cases for the budget: lower FUZZ_CASES).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}
export PROPTEST_CASES=${FUZZ_CASES:-6000}
# Shrinking a failure gets at most a minute.
export PROPTEST_MAX_SHRINK_TIME=${PROPTEST_MAX_SHRINK_TIME:-60000}
FUZZ_SECONDS=${FUZZ_SECONDS:-300}

cd "$ROOT"
echo "[fuzz.sh] building the unit tests" >&2
cargo test --lib --no-run --quiet
echo "[fuzz.sh] PROPTEST_CASES=$PROPTEST_CASES per property, at most ${FUZZ_SECONDS}s" >&2
started=$(date +%s)
set +e
timeout --kill-after=10 "$FUZZ_SECONDS" cargo test --lib --quiet adapters::formats::fuzz_tests -- --test-threads=2
rc=$?
set -e
elapsed=$(( $(date +%s) - started ))
case "$rc" in
    0) echo "[fuzz.sh] PASS in ${elapsed}s" >&2 ;;
    124|137) echo "[fuzz.sh] FAIL: not finished within ${FUZZ_SECONDS}s (a hang, or lower FUZZ_CASES)" >&2 ;;
    *) echo "[fuzz.sh] FAIL (exit $rc) after ${elapsed}s" >&2 ;;
esac
exit "$rc"
