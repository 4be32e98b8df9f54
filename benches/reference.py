"""Reference tools on the benchmark's CSV, each in its own process so that its peak RSS is
its own: polars' streaming CSV -> Parquet, DuckDB's read_csv_auto -> Parquet, pandas
read_csv + the /analyze statistics, and DuckDB SUMMARIZE. Prints each, then the ratios to
the Rust pipeline's results.json. Usage: reference.py CSV RESULTS_JSON WORK_DIR
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


def run(name, code):
    out = os.path.join(WORK, "ref-out.parquet")
    parquet = os.path.join(WORK, "ref-duckdb.parquet")
    prelude = f"CSV={CSV!r}\nOUT={out!r}\nPARQUET={parquet!r}\n"
    wrapper = prelude + code + "\nimport resource, sys\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    if "SUMMARIZE" in name and not os.path.exists(parquet):
        return None
    start = time.time()
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    seconds = time.time() - start
    if done.returncode != 0:
        print(f"{name:<34} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    peak_mib = int(done.stdout.strip().splitlines()[-1]) / 1024
    if "duckdb read_csv" in name:
        os.replace(out, parquet)
    return seconds, peak_mib


def main():
    mb = os.path.getsize(CSV) / 1e6
    rust = {p["phase"]: p for p in json.load(open(RESULTS))["phases"]}
    print(f"reference tools on {CSV} ({mb:.1f} MB)")
    measured = {}
    for name, code in TASKS.items():
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
    ours_ingest = rust["upload (ingest + store)"]["seconds"]
    ours_analyze = rust["analyze (first, computed)"]["seconds"]
    print("ratios (their time / ours; > 1 means datasets-api is faster):")
    for name, seconds in measured.items():
        ours = ours_analyze if ("statistics" in name or "SUMMARIZE" in name) else ours_ingest
        print(f"  {name:<34} {seconds / ours:>6.2f}x")


main()
