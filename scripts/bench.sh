#!/usr/bin/env bash
# The pipeline benchmark (benches/pipeline.rs) and, on the same file in the same run, the
# reference tools (benches/reference.py: polars, DuckDB, pandas, SciPy), installed from PyPI into a
# local venv when available. Prints MB/s, peak RSS and the ratios. Takes minutes; not in CI.
#
# Alone: scripts/bench.sh            BENCH_MB=100 scripts/bench.sh   (smaller file)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
export BENCH_DIR="${BENCH_DIR:-/var/tmp/datasets-api-bench}"
BENCH_MB="${BENCH_MB:-500}"
export BENCH_MB
mkdir -p "$BENCH_DIR"

cargo bench --bench pipeline

VENV="$BENCH_DIR/venv"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import polars, duckdb, pandas, pyarrow, scipy" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet polars duckdb pandas pyarrow scipy || echo "some reference tools could not be installed"
fi
"$VENV/bin/python" benches/reference.py "$BENCH_DIR/transactions-${BENCH_MB}MB.csv" "$BENCH_DIR/results.json" "$BENCH_DIR"

# /compare as a user meets it: a fresh release server given both files over HTTP.
benches/compare_fresh.sh "$BENCH_DIR/transactions-${BENCH_MB}MB.csv" "$BENCH_DIR/transactions-${BENCH_MB}MB-next.csv"

# The gzip upload as a user meets it: a fresh release server given the gzip over HTTP, each run
# paired with polars reading the same gzip just before (the machine's speed drifts).
POLARS_PYTHON="$VENV/bin/python" RUNS="${GZIP_RUNS:-5}" benches/upload_fresh.sh "$BENCH_DIR/transactions-${BENCH_MB}MB.csv.gz"
