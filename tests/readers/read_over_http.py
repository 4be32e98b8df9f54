"""Data tools read a version straight from the server, as the README shows: pyarrow (for
pandas) through fsspec's HTTP filesystem, and polars lazily through a pyarrow dataset, fetch
`download?format=parquet` with range requests and get the version's exact table; DuckDB
queries the same dataset. Also the `/query` answers in Parquet and Arrow read back in pyarrow,
and the Python recipe of docs/content-hash.md (run as written there) recomputes the server's
`content_hash` of each version.

Run by scripts/test-readers.sh, which starts the server and passes BASE_URL, KEY and LOG
(the server's JSON log, to count the 206 answers the readers got).
"""

import io
import json
import os
import sys
import urllib.request

import duckdb
import fsspec
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.ipc
import pyarrow.parquet as pq

BASE = os.environ["BASE_URL"]
KEY = os.environ["KEY"]
LOG = os.environ["LOG"]
HEADERS = {"Authorization": f"Bearer {KEY}"}


def call(method, path, body=None, form=None):
    data, headers = None, dict(HEADERS)
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        boundary = "readers-boundary"
        parts = []
        for name, value in form.items():
            if isinstance(value, tuple):
                filename, content = value
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'.encode()
                    + content
                    + b"\r\n"
                )
            else:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request) as response:
        return response.read()


def ranged_answers():
    """How many download requests the server answered 206 so far."""
    count = 0
    with open(LOG, encoding="utf-8") as log:
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields", entry)
            if str(fields.get("status")) == "206":
                count += 1
    return count


def documented_recipe():
    """The ```python block of docs/content-hash.md, run as written: its `content_hash`."""
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "content-hash.md")
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "docs/content-hash.md", "exec"), namespace)
    return namespace["content_hash"]


def check_content_hashes(dataset_id):
    """The recipe gives every version's `content_hash` from its Parquet download and columns."""
    content_hash = documented_recipe()
    versions = json.loads(call("GET", f"/api/datasets/{dataset_id}/versions"))["items"]
    for version in versions:
        n = version["version"]
        parquet_bytes = call("GET", f"/api/datasets/{dataset_id}/download?format=parquet&version={n}")
        columns = json.loads(call("GET", f"/api/datasets/{dataset_id}/columns?version={n}"))["columns"]
        assert content_hash(parquet_bytes, columns) == version["content_hash"], (n, version["content_hash"])
    return len(versions)


def main():
    rows = 60_000
    csv = "id,country,amount,day\n" + "".join(
        f"{i},{['DE', 'FR', 'IT'][i % 3]},{i * 0.25},2024-01-{1 + i % 28:02d}\n" for i in range(rows)
    )
    project = json.loads(call("POST", "/api/projects", {"name": "Readers"}))["id"]
    upload = json.loads(
        call("POST", "/api/datasets/upload", form={"project_id": project, "name": "Sales", "file": ("sales.csv", csv.encode())})
    )
    dataset_id = upload["dataset_id"]
    call("POST", f"/api/datasets/{dataset_id}/versions", form={"description": "newer", "file": ("v1.csv", b"id\n1\n")})
    url = f"{BASE}/api/datasets/{dataset_id}/download?format=parquet&version=0"
    expected = pd.read_csv(io.StringIO(csv), parse_dates=["day"])

    http = fsspec.filesystem("http", headers=HEADERS, block_size=64 * 1024)
    before = ranged_answers()
    df = pq.read_table(url, filesystem=http).to_pandas()
    assert len(df) == rows, len(df)
    assert list(df.columns) == ["id", "country", "amount", "day"], list(df.columns)
    assert (df["id"].to_numpy() == expected["id"].to_numpy()).all()
    assert (df["amount"].to_numpy() == expected["amount"].to_numpy()).all()
    assert (df["country"] == expected["country"]).all()
    assert (pd.to_datetime(df["day"]) == expected["day"]).all()
    pandas_ranges = ranged_answers() - before
    assert pandas_ranges > 0, "pyarrow read without range requests"

    before = ranged_answers()
    dataset = ds.dataset(url, filesystem=pafs.PyFileSystem(pafs.FSSpecHandler(http)), format="parquet")
    lf = pl.scan_pyarrow_dataset(dataset)
    total = lf.select(pl.col("amount").sum()).collect().item()
    assert total == sum(i * 0.25 for i in range(rows)), total
    by_country = lf.group_by("country").agg(pl.len()).sort("country").collect()
    assert by_country["len"].to_list() == [rows // 3] * 3, by_country
    polars_ranges = ranged_answers() - before
    assert polars_ranges > 0, "polars read without range requests"

    counted = duckdb.sql("SELECT country, count(*) AS n FROM dataset GROUP BY 1 ORDER BY 1").fetchall()
    assert counted == [("DE", rows // 3), ("FR", rows // 3), ("IT", rows // 3)], counted

    sql = "SELECT country, count(*) AS n, sum(amount) AS total FROM data GROUP BY 1 ORDER BY 1"
    answer = call("POST", f"/api/datasets/{dataset_id}/query", {"sql": sql, "version": 0, "format": "parquet"})
    table = pq.read_table(io.BytesIO(answer))
    assert table.column("n").to_pylist() == [rows // 3] * 3, table
    stream = call("POST", f"/api/datasets/{dataset_id}/query", {"sql": sql, "version": 0, "format": "arrow"})
    arrow_table = pyarrow.ipc.open_stream(stream).read_all()
    assert arrow_table.equals(table), (arrow_table, table)

    typed = (
        "n,x,flag,label,day,at,at_utc\n"
        "1,0.5,true,é,2024-01-02,2024-01-02 03:04:05,2024-01-02T03:04:05Z\n"
        "-2,-0.0,,,,,\n"
        "3,NaN,false,b,1969-12-31,1969-12-31 23:59:59.5,1969-12-31T23:59:59.5+01:00\n"
    )
    call("POST", f"/api/datasets/{dataset_id}/versions", form={"description": "types", "file": ("t.csv", typed.encode())})
    hashed = check_content_hashes(dataset_id)

    print(f"readers: pyarrow/pandas ({pandas_ranges} range requests), polars ({polars_ranges}), DuckDB, /query parquet and arrow: same table; "
          f"the recipe of docs/content-hash.md gives the content_hash of {hashed} versions")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        raise
