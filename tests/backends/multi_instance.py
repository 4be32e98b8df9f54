"""Two server processes sharing one database and one object store serve the same datasets.

Uploads through one instance; reads, versions, downloads and deletes through the other; then
16 concurrent new-version uploads, 8 through each, must get unique, contiguous version numbers.
After the deletion, no object of the dataset is left in the bucket.

Run alone (PostgreSQL + the S3 emulator):
    scripts/emulators.sh start && eval "$(scripts/emulators.sh env)"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/datasets_api_multi STORAGE_URL=s3://datasets-ci/multi \
      /var/tmp/datasets-api-emulators/venv/bin/python tests/backends/multi_instance.py BINARY
"""
import concurrent.futures
import io
import os
import sys
import uuid

import boto3

from server import Client, Server


def csv_bytes(rows, seed):
    lines = ["id,amount,label"] + [f"{i},{(i * 7 + seed) % 1000 / 10},l{(i + seed) % 5}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def main(binary):
    key = f"multi-instance-admin-{uuid.uuid4()}"
    env = {"ADMIN_API_KEY": key, "DATABASE_URL": os.environ["DATABASE_URL"], "STORAGE_URL": os.environ["STORAGE_URL"]}
    a = Server(binary, env, "instance-a")
    try:
        b = Server(binary, env, "instance-b")
    except Exception:
        a.stop()
        raise
    try:
        ca, cb = Client(a, key), Client(b, key)
        project = ca.project(f"multi-{uuid.uuid4().hex[:8]}")
        up = ca.upload(project, "Shared", "shared.csv", csv_bytes(100, 0)).json()
        dataset = up["dataset_id"]
        # Read through the other instance.
        detail = cb.call("GET", f"/api/datasets/{dataset}", 200).json()
        assert detail["dataset"]["id"] == dataset and detail["dataset"]["rows"] == 100, detail
        columns = cb.call("GET", f"/api/datasets/{dataset}/columns", 200).json()
        assert [c["name"] for c in columns["columns"]] == ["id", "amount", "label"], columns
        downloaded = cb.call("GET", f"/api/datasets/{dataset}/download", 200).content
        assert downloaded.count(b"\n") == 101, downloaded[:200]
        # A version through B, seen by A.
        v1 = cb.new_version(dataset, "through b", "v1.csv", csv_bytes(50, 1)).json()
        assert v1["version"] == 1, v1
        versions = ca.call("GET", f"/api/datasets/{dataset}/versions", 200).json()
        assert [v["version"] for v in versions["items"]] == [0, 1], versions
        analysis = ca.call("GET", f"/api/datasets/{dataset}/analyze", 200).json()
        assert analysis["statistics"]["row_count"] == 50 and analysis["error"] is None, analysis

        # 16 concurrent new versions, 8 through each instance.
        def post(i):
            client = ca if i % 2 == 0 else cb
            return client.new_version(dataset, f"concurrent {i}", f"c{i}.csv", csv_bytes(200 + i, i)).json()["version"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            numbers = sorted(pool.map(post, range(16)))
        assert numbers == list(range(2, 18)), f"version numbers not unique and contiguous: {numbers}"
        listed = cb.call("GET", f"/api/datasets/{dataset}/versions?limit=100", 200).json()
        assert [v["version"] for v in listed["items"]] == list(range(18)), listed["total"]

        # Delete through B; A no longer finds it, and the bucket holds none of its objects.
        cb.call("DELETE", f"/api/datasets/{dataset}", 200)
        ca.call("GET", f"/api/datasets/{dataset}", 404)
        leftovers = objects_of(dataset)
        assert not leftovers, f"objects left after the deletion: {leftovers[:5]}"
        print(f"multi-instance: 2 servers, 1 database, 1 bucket: upload/read/version/delete across instances ok; "
              f"16 concurrent versions through both got {numbers[0]}..{numbers[-1]}, each once")
    except Exception:
        print("--- instance a log\n" + a.tail(), file=sys.stderr)
        print("--- instance b log\n" + b.tail(), file=sys.stderr)
        raise
    finally:
        a.stop()
        b.stop()


def objects_of(dataset):
    url = os.environ["STORAGE_URL"]
    if not url.startswith("s3://"):
        return []
    bucket, _, prefix = url[len("s3://"):].partition("/")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", []) if dataset in o["Key"]]


if __name__ == "__main__":
    main(sys.argv[1])
