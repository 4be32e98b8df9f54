"""Reference tools on the benchmark's CSV, each in its own process so that its peak RSS is
its own: polars' streaming CSV -> Parquet, DuckDB's read_csv_auto -> Parquet, pandas
read_csv + the /analyze statistics, and DuckDB SUMMARIZE; on the version's own Parquet file
(results.json's "parquet"): polars read_parquet -> write_csv (the CSV download), DuckDB's
first page of the /rows filter and sort with its count, and DuckDB's group-by of the /query
phase; with the next month's Parquet file, SciPy's drift tests and DuckDB's full outer join
that counts the row diff by key. Prints each, then the ratios to the Rust pipeline's results.json.
Usage: reference.py CSV RESULTS_JSON WORK_DIR
"""
import json
import os
import resource
import subprocess
import sys
import time

CSV, RESULTS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]

TASKS = {
    "polars csv->parquet (streaming)": """
import polars as pl
pl.scan_csv(CSV).sink_parquet(OUT)
""",
    "polars gzip csv->parquet": """
import polars as pl
pl.read_csv(CSV_GZ).write_parquet(OUT)
""",
    "duckdb read_csv_auto->parquet": """
import duckdb
duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{CSV}')) TO '{OUT}' (FORMAT PARQUET)")
""",
    "pandas read_csv + statistics": """
import pandas as pd
df = pd.read_csv(CSV)
num = df.select_dtypes('number')
num.agg(['min', 'max', 'mean', 'std', 'skew', 'kurt'])
num.quantile([0.25, 0.5, 0.75])
df.isna().sum(); df.nunique()
for c in df.select_dtypes(exclude='number').columns:
    df[c].value_counts().head(10)
num.corr()
df.duplicated().sum()
""",
    "duckdb SUMMARIZE (parquet)": """
import duckdb
duckdb.sql(f"SUMMARIZE SELECT * FROM '{PARQUET}'").fetchall()
""",
}


SETTINGS = json.load(open(RESULTS))
# Timed inside the process, around the work alone (the server's phases exclude its start too).
VERSION_TASKS = {
    "polars read_parquet->write_csv": """
import polars as pl, time
t0 = time.perf_counter()
pl.read_parquet(VERSION).write_csv(OUT)
print("ELAPSED", time.perf_counter() - t0)
""",
    "duckdb where+order_by page + count": """
import duckdb, time
con = duckdb.connect()
t0 = time.perf_counter()
con.sql(f"SELECT * FROM '{VERSION}' WHERE {WHERE} ORDER BY {ORDER_BY} LIMIT 100").fetchall()
con.sql(f"SELECT count(*) FROM '{VERSION}' WHERE {WHERE}").fetchall()
print("ELAPSED", time.perf_counter() - t0)
""",
    "scipy every drift test (pyarrow read)": """
import time
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
from scipy import stats
from scipy.spatial import distance
t0 = time.perf_counter()
v1, v2 = pq.read_table(VERSION), pq.read_table(VERSION_NEXT)
for name in v1.column_names:
    a, b = v1.column(name), v2.column(name)
    if pa.types.is_timestamp(a.type) or pa.types.is_integer(a.type) or pa.types.is_floating(a.type):
        x = a.drop_null().to_numpy().astype("float64"); y = b.drop_null().to_numpy().astype("float64")
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        stats.ks_2samp(x, y)
        stats.wasserstein_distance(x, y) / max(np.std(x), 0.001)
        edges = np.quantile(x, np.linspace(0.1, 0.9, 9))
        c1 = np.bincount(np.searchsorted(edges, x, side="right"), minlength=10)
        c2 = np.bincount(np.searchsorted(edges, y, side="right"), minlength=10)
    else:
        counts = lambda c: {r["values"]: r["counts"] for r in pc.value_counts(c.drop_null()).to_pylist()}
        k1, k2 = counts(a), counts(b)
        keys = sorted(set(k1) | set(k2), key=str)
        c1 = np.array([k1.get(k, 0) for k in keys], dtype=float); c2 = np.array([k2.get(k, 0) for k in keys], dtype=float)
    p, q = c1 / c1.sum(), c2 / c2.sum()
    with np.errstate(divide="ignore"):
        stats.chisquare(c2, p * c2.sum())
    distance.jensenshannon(p, q)
print("ELAPSED", time.perf_counter() - t0)
""",
    "duckdb row diff by key": """
import duckdb, time
con = duckdb.connect()
t0 = time.perf_counter()
cols = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{VERSION}'").fetchall() if r[0] != DIFF_KEY]
changed = " OR ".join(f'a."{c}" IS DISTINCT FROM b."{c}"' for c in cols)
by_column = ", ".join(f'count(*) FILTER (a."{c}" IS DISTINCT FROM b."{c}" AND a."{DIFF_KEY}" IS NOT NULL AND b."{DIFF_KEY}" IS NOT NULL)' for c in cols)
con.sql(f'''SELECT count(*) FILTER (a."{DIFF_KEY}" IS NULL), count(*) FILTER (b."{DIFF_KEY}" IS NULL),
  count(*) FILTER (a."{DIFF_KEY}" IS NOT NULL AND b."{DIFF_KEY}" IS NOT NULL AND ({changed})), {by_column}
  FROM '{VERSION}' a FULL OUTER JOIN '{VERSION_NEXT}' b ON a."{DIFF_KEY}" = b."{DIFF_KEY}" ''').fetchall()
print("ELAPSED", time.perf_counter() - t0)
""",
    "duckdb group-by aggregate": """
import duckdb, time
con = duckdb.connect()
t0 = time.perf_counter()
con.sql(QUERY.replace("FROM data", f"FROM '{VERSION}'")).fetchall()
print("ELAPSED", time.perf_counter() - t0)
""",
}
OURS = {
    "polars csv->parquet (streaming)": "upload (ingest + store)",
    "polars gzip csv->parquet": "upload gzip CSV (decompress + ingest + store)",
    "duckdb read_csv_auto->parquet": "upload (ingest + store)",
    "pandas read_csv + statistics": "analyze (first, computed)",
    "duckdb SUMMARIZE (parquet)": "analyze (first, computed)",
    "polars read_parquet->write_csv": "download CSV",
    "duckdb where+order_by page + count": "rows: where + order_by, first page",
    "duckdb group-by aggregate": "query: group-by aggregate",
    "duckdb row diff by key": "diff by key",
    "scipy every drift test (pyarrow read)": "compare: every drift test",
}


def run(name, code):
    out = os.path.join(WORK, "ref-out.parquet" if "csv->parquet" in name else "ref-out.csv")
    csv_gz = SETTINGS.get("input_gz")
    parquet = os.path.join(WORK, "ref-duckdb.parquet")
    prelude = (
        f"CSV={CSV!r}\nCSV_GZ={csv_gz!r}\nOUT={out!r}\nPARQUET={parquet!r}\nVERSION={SETTINGS.get('parquet')!r}\nVERSION_NEXT={SETTINGS.get('parquet_next')!r}\n"
        f"DIFF_KEY={SETTINGS.get('diff_key')!r}\nWHERE={SETTINGS.get('rows_where')!r}\nORDER_BY={SETTINGS.get('rows_order_by')!r}\nQUERY={SETTINGS.get('query')!r}\n"
    )
    wrapper = prelude + code + "\nimport resource, sys\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    if "SUMMARIZE" in name and not os.path.exists(parquet):
        return None
    start = time.time()
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    seconds = time.time() - start
    if done.returncode != 0:
        print(f"{name:<34} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    lines = done.stdout.strip().splitlines()
    peak_mib = int(lines[-1]) / 1024
    timed = [float(line.split()[1]) for line in lines if line.startswith("ELAPSED ")]
    if timed:
        seconds = timed[-1]
    if "duckdb read_csv" in name:
        os.replace(out, parquet)
    if os.path.exists(out):
        os.remove(out)
    return seconds, peak_mib


def main():
    mb = os.path.getsize(CSV) / 1e6
    rust = {p["phase"]: p for p in SETTINGS["phases"]}
    print(f"reference tools on {CSV} ({mb:.1f} MB)")
    measured = {}
    tasks = dict(TASKS)
    if SETTINGS.get("parquet"):
        tasks.update(VERSION_TASKS)
    for name, code in tasks.items():
        try:
            __import__(name.split()[0])
        except ImportError:
            print(f"{name:<34} skipped: not installed")
            continue
        result = run(name, code)
        if result:
            seconds, peak = result
            measured[name] = seconds
            print(f"{name:<34} {seconds:>8.2f} s {mb / seconds:>9.1f} MB/s   peak RSS {peak:>7.1f} MiB")
    print("ratios (their time / ours; > 1 means datasets-api is faster):")
    for name, seconds in measured.items():
        ours = rust.get(OURS[name])
        if ours:
            print(f"  {name:<34} {seconds / ours['seconds']:>6.2f}x  (ours: {OURS[name]}, {ours['seconds']:.3f} s)")


main()
