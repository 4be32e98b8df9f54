#!/usr/bin/env python3
"""Crash-safety test of datasets-api (issue #7, item 2).

Run it through scripts/test-crash.sh, which provides the binary, a virtualenv (requests,
pyarrow) and a temporary folder. Alone:

    python tests/crash/crash_test.py --binary /var/tmp/datasets-api-target/debug/datasets-api \
        --workdir /tmp/crash-XXXX [--seed N] [--uploads 40] [--threads 2]

What it does:
  1. Starts the real server on 127.0.0.1 (free port) with SQLite and a local artifact folder
     inside --workdir, then uploads a bounded series of CSV files (new datasets and new
     versions, 1 KB to ~5 MB, generated from a seeded RNG) from one or two client threads.
  2. A killer thread SIGKILLs the server at random moments while uploads are in flight
     (delays drawn from the seeded RNG, scaled to the measured upload duration so that kills
     land while a body is being received, normalized, stored or committed) and restarts it
     on the same data dir.
  3. Every upload answered 201 is "acknowledged" (its sha256 is recorded). An upload whose
     connection broke is "in doubt": the server may have committed it before dying.
     An upload answered with any other status is "refused".
  4. At the end: waits 2 s, restarts with SWEEP_GRACE_SECONDS=1 and checks
     (a) every acknowledged upload is listed with its dataset, version id and number, row and
         column counts; the stored original's sha256 (artifacts table, and the file on disk)
         equals what was sent; the normalized Parquet file on disk has the recorded sha256
         and size and holds exactly the rows sent (read with pyarrow); the latest version of
         each dataset downloads (CSV) with exactly the rows sent; every version is readable
         through the API (/compare of the version with itself reports its row count);
     (b) no version exists that is not acknowledged or in doubt, version numbers are
         contiguous, each dataset's latest-version fields agree with its versions, and every
         in-doubt upload that exists is complete (as checked in (a));
     (c) after the sweep, the artifact folder holds exactly the files the artifacts table
         references (no orphan, no missing file, nothing left in .staging), and SPOOL_DIR is
         empty (no upload is in progress);
     (d) a webhook registered for `version.created` before the series, delivering to a
         receiver in this process: within 45 s of the last restart (an attempt cut short by a
         kill is made again once its 30 s lease has run out) every acknowledged
         upload's event has arrived at least once, every event that arrived names a stored
         version (none for an upload that was not committed), and every signature verifies
         (Standard Webhooks: HMAC-SHA256 of "{id}.{timestamp}.{body}").
  Exits 1 when any check fails, 2 on a setup error. Prints the seed; rerun with --seed to
  reproduce the same series of files and delays (exact kill moments depend on timing).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

from harness import ADMIN_KEY, HookReceiver, Server, log, sha256_bytes, sha256_file


# ---------------------------------------------------------------------------------------------
# Generated files

NAMES = ["ACME Corp", "Luxury Ltd", "New Shop", "Corner Store", "Bistro"]


def make_rows(rng: random.Random, target_bytes: int) -> list[tuple]:
    """Rows (id:int, amount:float, merchant:category, flag:bool, note:text with commas and
    quotes) whose CSV is about target_bytes long."""
    rows = []
    size = 40  # header
    i = 0
    while size < target_bytes:
        amount = round(rng.uniform(-1000, 100000), 2)
        note = f'item {rng.randrange(10**9)}, "q{i % 97}"'
        row = (i, amount, NAMES[rng.randrange(len(NAMES))], rng.random() < 0.3, note)
        rows.append(row)
        size += 48
        i += 1
    return rows


def to_csv(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "amount", "merchant", "flag", "note"])
    for r in rows:
        w.writerow([r[0], repr(r[1]), r[2], "true" if r[3] else "false", r[4]])
    return out.getvalue().encode()


def rows_digest(rows) -> str:
    """A digest of typed rows, independent of how a value was written."""
    h = hashlib.sha256()
    for r in rows:
        h.update(repr((int(r[0]), float(r[1]), str(r[2]), bool(r[3]), str(r[4]))).encode())
    return h.hexdigest()


def parse_download(body: bytes) -> list[tuple]:
    reader = csv.reader(io.StringIO(body.decode("utf-8")))
    header = next(reader)
    if header != ["id", "amount", "merchant", "flag", "note"]:
        raise ValueError(f"unexpected header {header}")
    rows = []
    for rec in reader:
        if rec[3] not in ("true", "false"):
            raise ValueError(f"unexpected bool {rec[3]!r}")
        rows.append((int(rec[0]), float(rec[1]), rec[2], rec[3] == "true", rec[4]))
    return rows


# ---------------------------------------------------------------------------------------------
# The upload series


@dataclass
class Upload:
    index: int
    kind: str  # "dataset" or "version"
    dataset_id: str | None  # target (version) or created (dataset, once known)
    size: int
    sha256: str
    rows: int
    digest: str
    description: str
    status: str = "pending"  # acked | in_doubt | refused
    http_status: int | None = None
    version_id: str | None = None
    version: int | None = None
    duration: float = 0.0
    killed_during: bool = False
    error: str = ""
    columns: int = 5


@dataclass
class State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    uploads: list = field(default_factory=list)
    acked_datasets: list = field(default_factory=list)
    in_flight: int = 0
    kills: int = 0
    kills_in_flight: int = 0
    kills_on_store: int = 0
    durations: list = field(default_factory=list)
    done: bool = False


def run_series(args, server: Server, project_id: str, state: State, rng: random.Random) -> None:
    """Prepares every file up front (deterministic from the seed), then sends them from
    `args.threads` threads."""
    plan = []
    for i in range(args.uploads):
        r = rng.random()
        if r < 0.55:
            target = rng.randrange(1_000, 200_000)
        elif r < 0.85:
            target = rng.randrange(500_000, 2_000_000)
        else:
            target = rng.randrange(3_000_000, 5_000_000)
        file_seed = rng.randrange(2**32)
        new_dataset = rng.random() < 0.4
        plan.append((i, target, file_seed, new_dataset))

    queue = list(plan)
    qlock = threading.Lock()
    files_dir = os.path.join(args.workdir, "sent")
    os.makedirs(files_dir, exist_ok=True)

    def worker(wid: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        wrng = random.Random(args.seed * 1000 + wid)
        while True:
            with qlock:
                if not queue:
                    return
                i, target, file_seed, new_dataset = queue.pop(0)
            rows = make_rows(random.Random(file_seed), target)
            body = to_csv(rows)
            path = os.path.join(files_dir, f"upload-{i:03d}.csv")
            with open(path, "wb") as f:
                f.write(body)
            with state.lock:
                targets = list(state.acked_datasets)
            kind = "dataset" if new_dataset or not targets else "version"
            up = Upload(
                index=i,
                kind=kind,
                dataset_id=None if kind == "dataset" else wrng.choice(targets),
                size=len(body),
                sha256=sha256_bytes(body),
                rows=len(rows),
                digest=rows_digest(rows),
                description=f"crash-test upload {i}",
            )
            with state.lock:
                state.uploads.append(up)
            # Wait for the server to be up (it may be restarting after a kill).
            if not server.up.wait(90):
                up.status, up.error = "in_doubt", "server not up"
                continue
            gen = server.generation
            files = {"file": (f"upload-{i}.csv", body, "text/csv")}
            if kind == "dataset":
                url = f"{server.base}/api/datasets/upload"
                data = {"project_id": project_id, "name": f"crash {i}", "description": up.description}
            else:
                url = f"{server.base}/api/datasets/{up.dataset_id}/versions"
                data = {"description": up.description}
            with state.lock:
                state.in_flight += 1
            started = time.monotonic()
            try:
                resp = session.post(url, data=data, files=files, timeout=120)
            except requests.RequestException as e:
                up.status, up.error = "in_doubt", type(e).__name__
                resp = None
            finally:
                up.duration = time.monotonic() - started
                with state.lock:
                    state.in_flight -= 1
            up.killed_during = server.generation != gen or not server.up.is_set()
            if resp is None:
                continue
            up.http_status = resp.status_code
            if resp.status_code == 201:
                j = resp.json()
                up.status = "acked"
                up.version_id = j["dataset_version_id"]
                if kind == "dataset":
                    up.dataset_id = j["dataset_id"]
                    up.version = 0
                else:
                    up.version = j["version"]
                    if j["row_count"] != up.rows or j["column_count"] != 5:
                        up.error = f"201 with row_count {j['row_count']} column_count {j['column_count']}"
                with state.lock:
                    state.durations.append(up.duration / max(up.size, 1))
                    if kind == "dataset":
                        state.acked_datasets.append(up.dataset_id)
            else:
                up.status = "refused"
                up.error = resp.text[:300]

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def stored_files(workdir: str) -> set[str]:
    return files_under(os.path.join(workdir, "artifacts", "datasets"))


def killer(args, server: Server, state: State, rng: random.Random, errors: list) -> None:
    """Kills the server at random moments while an upload is in flight, then restarts it.
    Two kinds of kill, drawn from the seeded RNG: after a random delay (scaled to the measured
    upload duration, so that it lands while a body is received or a file normalized), or as
    soon as a new artifact file appears (between storing an upload's files and committing its
    row: the window the orphan sweeper exists for)."""
    try:
        while not state.done and state.kills < args.max_kills:
            # Let some uploads through between two kills.
            time.sleep(rng.uniform(0.3, 1.5))
            # Wait for an upload in flight.
            while not state.done and state.in_flight == 0:
                time.sleep(0.01)
            if state.done:
                return
            on_store = rng.random() < args.store_kill_share
            if on_store:
                before = stored_files(args.workdir)
                deadline = time.monotonic() + 30
                while not state.done and time.monotonic() < deadline and stored_files(args.workdir) <= before:
                    time.sleep(0.001)
                how = "as an artifact file appeared"
            else:
                with state.lock:
                    per_byte = sorted(state.durations)[len(state.durations) // 2] if state.durations else 1e-6
                # An upload of ~1 MB takes per_byte * 1e6 s; kill somewhere in [0, 1.5x] of that.
                delay = rng.uniform(0.0, max(0.05, per_byte * 1.5e6))
                time.sleep(delay)
                how = f"after {delay:.2f} s"
            if state.done:
                return
            in_flight = state.in_flight
            server.kill()
            with state.lock:
                state.kills += 1
                if in_flight:
                    state.kills_in_flight += 1
                if on_store:
                    state.kills_on_store += 1
            log(f"kill #{state.kills} {how} ({in_flight} upload(s) in flight)")
            time.sleep(rng.uniform(0.0, 0.3))
            server.start()
    except Exception as e:  # noqa: BLE001 - reported as a failure
        errors.append(f"killer: {e!r}")
        state.done = True


# ---------------------------------------------------------------------------------------------
# Verification


def get_all(session, url, params=None, page=100):
    items, offset = [], 0
    while True:
        p = dict(params or {}, limit=page, offset=offset)
        r = session.get(url, params=p, timeout=60)
        r.raise_for_status()
        j = r.json()
        items += j["items"]
        offset += len(j["items"])
        if not j["items"] or offset >= j["total"]:
            return items


def files_under(root: str) -> set[str]:
    out = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def db_artifacts(workdir: str) -> list[dict]:
    con = sqlite3.connect(f"file:{workdir}/db.sqlite?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    def as_uuid(v):
        # sea-orm stores UUIDs in SQLite as 16-byte blobs.
        return str(uuid.UUID(bytes=v)) if isinstance(v, bytes) and len(v) == 16 else v

    try:
        rows = [dict(r) for r in con.execute(
            "SELECT a.id, a.version_id, a.dataset_id, a.kind, a.storage_key, a.size_bytes, a.sha256,"
            " v.version, v.description FROM artifacts a LEFT JOIN dataset_versions v ON v.id = a.version_id")]
        for r in rows:
            for k in ("id", "version_id", "dataset_id"):
                r[k] = as_uuid(r[k])
        return rows
    finally:
        con.close()


def orphan_report(workdir: str) -> tuple[set, set, set]:
    """(unreferenced files, referenced but missing, files outside datasets/)"""
    root = os.path.join(workdir, "artifacts")
    on_disk = files_under(root)
    referenced = {a["storage_key"] for a in db_artifacts(workdir)}
    datasets_files = {f for f in on_disk if f.startswith("datasets/")}
    other = on_disk - datasets_files
    return datasets_files - referenced, referenced - on_disk, other


def verify(args, server: Server, project_id: str, state: State) -> list[str]:
    import pyarrow.parquet as pq

    failures: list[str] = []
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    by_desc = {u.description: u for u in state.uploads}
    artifacts = db_artifacts(args.workdir)
    by_version: dict[str, dict] = {}
    for a in artifacts:
        if a["version"] is None:
            failures.append(f"artifact row {a['id']} references a missing version {a['version_id']}")
        by_version.setdefault(a["version_id"], {})[a["kind"]] = a

    datasets = get_all(s, f"{server.base}/api/datasets", {"project_id": project_id}, page=500)
    seen_versions: dict[str, dict] = {}
    verified = 0
    in_doubt_committed = 0
    for ds in datasets:
        versions = get_all(s, f"{server.base}/api/datasets/{ds['id']}/versions")
        numbers = sorted(v["version"] for v in versions)
        if numbers != list(range(len(numbers))):
            failures.append(f"dataset {ds['id']}: version numbers not contiguous: {numbers}")
        latest = max(versions, key=lambda v: v["version"]) if versions else None
        if latest is None:
            failures.append(f"dataset {ds['id']} is listed without any version")
            continue
        if ds["dataset_version_id"] != latest["id"] or ds["rows"] != latest["row_count"]:
            failures.append(f"dataset {ds['id']}: listing says latest {ds['dataset_version_id']} / {ds['rows']} rows,"
                            f" versions say {latest['id']} / {latest['row_count']}")
        for v in versions:
            seen_versions[v["id"]] = v
            up = by_desc.get(v["description"])
            where = f"dataset {ds['id']} v{v['version']} ({v['description']!r})"
            if up is None:
                failures.append(f"{where}: no upload has this description")
                continue
            if up.status == "refused":
                failures.append(f"{where}: exists although the upload was answered {up.http_status}")
                continue
            if up.status == "in_doubt":
                in_doubt_committed += 1
            if up.status == "acked":
                if v["id"] != up.version_id or v["version"] != up.version or ds["id"] != up.dataset_id:
                    failures.append(f"{where}: acked as {up.dataset_id} v{up.version} {up.version_id}")
            elif up.kind == "version" and ds["id"] != up.dataset_id:
                failures.append(f"{where}: in-doubt upload was for dataset {up.dataset_id}")
            if v["row_count"] != up.rows or v["column_count"] != 5:
                failures.append(f"{where}: {v['row_count']} rows x {v['column_count']} cols, sent {up.rows} x 5")
            arts = by_version.get(v["id"], {})
            orig, norm = arts.get("original"), arts.get("normalized")
            if orig is None or norm is None:
                failures.append(f"{where}: artifact rows {sorted(arts)}; expected original and normalized")
                continue
            if orig["sha256"] != up.sha256 or orig["size_bytes"] != up.size:
                failures.append(f"{where}: original recorded as {orig['sha256']} ({orig['size_bytes']} B),"
                                f" sent {up.sha256} ({up.size} B)")
            opath = os.path.join(args.workdir, "artifacts", orig["storage_key"])
            npath = os.path.join(args.workdir, "artifacts", norm["storage_key"])
            if not os.path.exists(opath) or sha256_file(opath) != up.sha256:
                failures.append(f"{where}: original file {orig['storage_key']} missing or differs from what was sent")
            if not os.path.exists(npath):
                failures.append(f"{where}: normalized file {norm['storage_key']} missing")
                continue
            if sha256_file(npath) != norm["sha256"] or os.path.getsize(npath) != norm["size_bytes"]:
                failures.append(f"{where}: normalized file differs from its recorded sha256/size")
            try:
                table = pq.read_table(npath)
                cols = [table.column(n).to_pylist() for n in ("id", "amount", "merchant", "flag", "note")]
                if rows_digest(zip(*cols)) != up.digest:
                    failures.append(f"{where}: normalized Parquet rows differ from the rows sent")
            except Exception as e:  # noqa: BLE001
                failures.append(f"{where}: normalized Parquet unreadable: {e}")
            # Readable through the API: compare the version with itself.
            r = s.get(f"{server.base}/api/datasets/{ds['id']}/compare",
                      params={"v1": v["version"], "v2": v["version"]}, timeout=120)
            if r.status_code != 200 or r.json()["summary"]["v1_rows"] != up.rows:
                failures.append(f"{where}: /compare answered {r.status_code} {r.text[:200]}")
            if v["id"] == latest["id"]:
                r = s.get(f"{server.base}/api/datasets/{ds['id']}/download", timeout=120)
                try:
                    ok = r.status_code == 200 and rows_digest(parse_download(r.content)) == up.digest
                except Exception as e:  # noqa: BLE001
                    ok, r = False, type("R", (), {"status_code": r.status_code, "text": str(e)})
                if not ok:
                    failures.append(f"{where}: download answered {r.status_code} or its rows differ: {r.text[:200]}")
                r = s.get(f"{server.base}/api/datasets/{ds['id']}/analyze", timeout=120)
                if r.status_code != 200 or r.json()["statistics"]["row_count"] != up.rows:
                    failures.append(f"{where}: /analyze answered {r.status_code} {r.text[:200]}")
            if up.status == "acked" and not up.error:
                verified += 1

    for up in state.uploads:
        if up.status == "acked" and up.version_id not in seen_versions:
            failures.append(f"upload {up.index} was acknowledged ({up.dataset_id} v{up.version}) but is not listed")
        if up.error and up.status == "acked":
            failures.append(f"upload {up.index}: {up.error}")
    for vid in by_version:
        if vid not in seen_versions:
            failures.append(f"artifact rows reference version {vid}, which is not listed")
    state.verified = verified
    state.in_doubt_committed = in_doubt_committed
    return failures


def spool_files(root: str) -> list[str]:
    """The files under SPOOL_DIR (its folders, such as the query engine's spill folder, may stay)."""
    found = []
    for folder, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, n), root) for n in names]
    return sorted(found)


def stored_version_ids(server: Server, project_id: str) -> set[str]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    ids = set()
    for ds in get_all(s, f"{server.base}/api/datasets", {"project_id": project_id}, page=500):
        ids.update(v["id"] for v in get_all(s, f"{server.base}/api/datasets/{ds['id']}/versions"))
    return ids


def check_webhooks(server: Server, project_id: str, state: State, receiver: HookReceiver) -> list[str]:
    """(d) of the module's documentation."""
    acked = {u.version_id for u in state.uploads if u.status == "acked"}
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and not acked <= set(receiver.received()):
        time.sleep(0.2)
    received = receiver.received()
    stored = stored_version_ids(server, project_id)
    failures = []
    missing = acked - set(received)
    if missing:
        failures.append(f"{len(missing)} acknowledged upload(s) without a version.created delivery: {sorted(missing)[:5]}")
    unknown = set(received) - stored
    if unknown:
        failures.append(f"version.created delivered for {len(unknown)} version(s) that are not stored: {sorted(unknown)[:5]}")
    if receiver.bad_signatures:
        failures.append(f"{len(receiver.bad_signatures)} delivery(ies) whose signature does not verify")
    state.webhook_deliveries = sum(received.values())
    state.webhook_redelivered = sum(1 for n in received.values() if n > 1)
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--uploads", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-kills", type=int, default=15)
    ap.add_argument("--store-kill-share", type=float, default=0.4,
                    help="share of kills made as soon as a new artifact file appears")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    log(f"seed {args.seed} (rerun with --seed {args.seed}); {args.uploads} uploads, {args.threads} threads")
    started = time.monotonic()

    server = Server(args.binary, args.workdir)
    # Turn SIGTERM (e.g. from `timeout`) into a normal exit so that the server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    state = State()
    state.verified = 0
    state.in_doubt_committed = 0
    errors: list[str] = []
    try:
        server.start()
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        r = s.post(f"{server.base}/api/projects", json={"name": "crash test"}, timeout=30)
        r.raise_for_status()
        project_id = r.json()["id"]
        receiver = HookReceiver()
        hook = s.post(f"{server.base}/api/projects/{project_id}/webhooks",
                      json={"url": receiver.url, "events": ["version.created"]}, timeout=30)
        hook.raise_for_status()
        receiver.secret = base64.b64decode(hook.json()["secret"].removeprefix("whsec_"))

        rng = random.Random(args.seed)
        kill_thread = threading.Thread(target=killer, args=(args, server, state, random.Random(args.seed + 1), errors),
                                       daemon=True)
        kill_thread.start()
        run_series(args, server, project_id, state, rng)
        state.done = True
        kill_thread.join(120)
        if not server.up.is_set():
            server.start()
        series_s = time.monotonic() - started

        orphans_before, _missing, _other = orphan_report(args.workdir)
        spool_before = spool_files(os.path.join(args.workdir, "spool"))
        staging_before = sorted(files_under(os.path.join(args.workdir, "artifacts", ".staging")))
        # Stop, let the orphans age past the 1 s grace, restart with SWEEP_GRACE_SECONDS=1.
        server.kill()
        time.sleep(2.1)
        server.start(grace=1)
        # The start-up sweep runs in the background: wait (bounded) until no unreferenced
        # artifact and no spool file is left, then judge (the spool is swept after the
        # artifacts: judging it as soon as the artifacts were clean raced the sweep).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            orphans_after, missing, other = orphan_report(args.workdir)
            spool_after = spool_files(os.path.join(args.workdir, "spool"))
            if not orphans_after and not spool_after:
                break
            time.sleep(0.2)

        failures = list(errors)
        failures += verify(args, server, project_id, state)
        failures += check_webhooks(server, project_id, state, receiver)
        if orphans_after:
            failures.append(f"{len(orphans_after)} unreferenced artifact file(s) after the sweep: {sorted(orphans_after)[:5]}")
        if missing:
            failures.append(f"{len(missing)} referenced artifact file(s) missing: {sorted(missing)[:5]}")
        leftovers = sorted(other)
        if leftovers:
            failures.append(f"{len(leftovers)} file(s) in the artifact folder outside datasets/ (staging, probes): {leftovers[:5]}")
        if spool_after:
            failures.append(f"{len(spool_after)} file(s) left in SPOOL_DIR after the restart: {spool_after[:5]}")
        if state.kills == 0:
            failures.append("no kill happened: the test proved nothing")

        acked = [u for u in state.uploads if u.status == "acked"]
        in_doubt = [u for u in state.uploads if u.status == "in_doubt"]
        refused = [u for u in state.uploads if u.status == "refused"]
        for u in refused:
            failures.append(f"upload {u.index} refused with {u.http_status} (only kills should make uploads fail): {u.error}")
        sweep_lines = []
        with open(server.log_path, errors="replace") as f:
            for line in f:
                if "orphan" in line:
                    sweep_lines.append(line.strip())
        total_s = time.monotonic() - started
        log("summary:")
        print(json.dumps({
            "seed": args.seed,
            "uploads_attempted": len(state.uploads),
            "bytes_sent_total": sum(u.size for u in state.uploads),
            "largest_upload_bytes": max(u.size for u in state.uploads),
            "kills": state.kills,
            "kills_with_upload_in_flight": state.kills_in_flight,
            "kills_as_artifact_appeared": state.kills_on_store,
            "server_starts": server.starts,
            "uploads_acked": len(acked),
            "uploads_in_doubt": len(in_doubt),
            "in_doubt_found_committed": state.in_doubt_committed,
            "uploads_refused": len(refused),
            "acked_verified": state.verified,
            "webhook_deliveries_received": getattr(state, "webhook_deliveries", None),
            "webhook_versions_delivered_more_than_once": getattr(state, "webhook_redelivered", None),
            "orphans_before_final_sweep": len(orphans_before),
            "orphans_after_final_sweep": len(orphans_after),
            "staging_files_before_final_sweep": len(staging_before),
            "spool_files_before_final_restart": len(spool_before),
            "spool_files_after_final_restart": len(spool_after),
            "series_seconds": round(series_s, 1),
            "total_seconds": round(total_s, 1),
        }, indent=2), flush=True)
        for line in sweep_lines[-3:]:
            log(f"server log: {line[:300]}")
        if failures:
            log(f"FAILED: {len(failures)} problem(s):")
            for f_ in failures[:50]:
                print("  - " + f_, flush=True)
            return 1
        log("PASSED")
        return 0
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        log(f"setup error: {e!r}")
        return 2
    finally:
        state.done = True
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
