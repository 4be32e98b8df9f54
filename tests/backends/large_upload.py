"""A large upload reaches the object store through its multipart upload in bounded memory,
and downloads stream back from it.

Generates a CSV of SIZE_MB (default 500) megabytes, uploads it with curl (streamed from disk)
to a server whose STORAGE_URL is an S3 bucket, and checks: the upload succeeds; the original
object in the bucket has the file's exact size and a multipart ETag (`…-N`); the CSV download
has every row; and the server's peak RSS stays under MAX_RSS_MIB (default 400).

Run alone:
    scripts/emulators.sh start && eval "$(scripts/emulators.sh env)"
    STORAGE_URL=s3://datasets-ci/large /var/tmp/datasets-api-emulators/venv/bin/python \
      tests/backends/large_upload.py BINARY
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import boto3

from server import Client, Server

MERCHANTS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]


def generate(path, size_bytes):
    """A transactions-like CSV; returns its number of data rows."""
    rows = 0
    with open(path, "w", buffering=1 << 20) as f:
        f.write("id,ts,amount,merchant,category,is_fraud,note\n")
        written = 0
        while written < size_bytes:
            block = []
            for i in range(rows, rows + 10000):
                amount = "" if i % 97 == 0 else f"{(i * 7919) % 100000 / 100:.2f}"
                day = 1 + i % 28
                block.append(
                    f"{i},2025-{1 + i % 12:02d}-{day:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d},{amount},"
                    f"{MERCHANTS[i % 10]},cat{i % 7},{'true' if i % 101 == 0 else 'false'},"
                    f"order {i * 31 % 100003} for customer {i % 5003}\n"
                )
            text = "".join(block)
            f.write(text)
            written += len(text)
            rows += 10000
    return rows


def main(binary):
    size_mb = int(os.environ.get("SIZE_MB", "500"))
    max_rss = float(os.environ.get("MAX_RSS_MIB", "400"))
    storage = os.environ["STORAGE_URL"]
    work = tempfile.mkdtemp(prefix="datasets-api-large-")
    path = os.path.join(work, "large.csv")
    t0 = time.time()
    rows = generate(path, size_mb * 1000 * 1000)
    size = os.path.getsize(path)
    print(f"generated {size / 1e6:.0f} MB, {rows} rows in {time.time() - t0:.1f} s", flush=True)
    key = f"large-upload-admin-{uuid.uuid4()}"
    server = Server(binary, {"ADMIN_API_KEY": key, "STORAGE_URL": storage,
                             "DATABASE_URL": f"sqlite://{work}/db.sqlite",
                             "MAX_DATASET_UPLOAD_BYTES": str(size + 1000)}, "large")
    try:
        client = Client(server, key)
        project = client.project(f"large-{uuid.uuid4().hex[:8]}")
        baseline = server.peak_rss_mib()
        t0 = time.time()
        out = subprocess.run(
            ["curl", "-sS", "-X", "POST", f"{server.url}/api/datasets/upload", "-H", f"Authorization: Bearer {key}",
             "-F", f"project_id={project}", "-F", "name=Large", "-F", f"file=@{path};type=text/csv",
             "-w", "\n%{http_code}"],
            capture_output=True, text=True, check=True)
        upload_s = time.time() - t0
        body, status = out.stdout.rsplit("\n", 1)
        assert status == "201", f"upload answered {status}: {body[:500]}"
        up = json.loads(body)
        peak_upload = server.peak_rss_mib()
        print(f"uploaded in {upload_s:.1f} s ({size / 1e6 / upload_s:.1f} MB/s); server peak RSS {peak_upload:.0f} MiB "
              f"(at start {baseline:.0f} MiB)", flush=True)

        # The original object: exact size, written by a multipart upload.
        if storage.startswith("s3://"):
            bucket, _, prefix = storage[len("s3://"):].partition("/")
            s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
            listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/datasets/{up['dataset_id']}/")
            objects = {o["Key"].rsplit("/", 1)[-1]: o for o in listing.get("Contents", [])}
            original = objects.get("original.csv")
            assert original and original["Size"] == size, f"original object: {original}"
            assert "-" in original["ETag"], f"not a multipart upload: ETag {original['ETag']}"
            print(f"original object: {original['Size']} bytes, multipart ETag {original['ETag']}; "
                  f"normalized {objects['data.parquet']['Size'] / 1e6:.0f} MB", flush=True)

        # The download streams from the store: count its rows without holding it.
        t0 = time.time()
        lines = 0
        with subprocess.Popen(["curl", "-sS", "-f", f"{server.url}/api/datasets/{up['dataset_id']}/download",
                               "-H", f"Authorization: Bearer {key}"], stdout=subprocess.PIPE) as proc:
            for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
                lines += chunk.count(b"\n")
        assert proc.returncode == 0, f"download failed: curl {proc.returncode}"
        assert lines == rows + 1, f"download has {lines} lines, expected {rows + 1}"
        peak = server.peak_rss_mib()
        print(f"downloaded {lines} lines in {time.time() - t0:.1f} s; server peak RSS overall {peak:.0f} MiB "
              f"(bound {max_rss:.0f} MiB)", flush=True)
        assert peak <= max_rss, f"peak RSS {peak:.0f} MiB exceeds {max_rss:.0f} MiB"
    except Exception:
        print("--- server log\n" + server.tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        os.remove(path)


if __name__ == "__main__":
    main(sys.argv[1])
