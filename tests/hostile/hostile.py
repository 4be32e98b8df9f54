#!/usr/bin/env python3
"""Hostile uploads under a memory cap (issue #7, item 5).

Run it through scripts/test-hostile.sh, which provides the binary, a virtualenv (requests,
pyarrow), a temporary folder and the cap. Alone:

    python tests/hostile/hostile.py --binary /var/tmp/datasets-api-target/debug/datasets-api \
        --workdir /tmp/hostile-XXXX [--as-bytes 2147483648] [--malloc-arena-max 2] [--workers 4] \
        [--repeat 2] [--seed N] [--only NAME[,NAME...]] [--list]

It starts the real server under `prlimit --as=<as-bytes>` (an address-space cap: an
allocation beyond it fails, which aborts a Rust process) with MALLOC_ARENA_MAX set so that
glibc's per-thread arenas do not reserve address space far beyond the heap, on 127.0.0.1 with
SQLite and a local artifact folder inside --workdir, and sends a corpus of hostile inputs from several workers
at once, each input more than once. Every HTTP answer must be a 4xx JSON error with a `code`
(or a 201 for the inputs that are valid files, marked so below); never a 5xx, never a dead
server. At the end the server must answer /health, list exactly the datasets of the valid
inputs, hold exactly their artifact files, and have an empty SPOOL_DIR. Prints the peak RSS
(VmHWM) and the peak address space (VmPeak) of the server.
Exits 1 when any check fails, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import requests

from builders import MiB
from corpus import Case, corpus

ADMIN_KEY = "hostile-test-admin-key-0123456789"


def log(msg: str) -> None:
    print(f"[hostile {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The server under test


class Server:
    def __init__(self, binary: str, workdir: str, as_bytes: int, arena_max: int = 0):
        self.binary, self.workdir, self.as_bytes, self.arena_max = binary, workdir, as_bytes, arena_max
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "server.log")
        self.starts = 0
        self.deaths: list[str] = []
        self.peak_rss_kb = 0
        self.peak_vm_kb = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(
            DATABASE_URL=f"sqlite://{self.workdir}/db.sqlite",
            STORAGE_URL=f"{self.workdir}/artifacts",
            SPOOL_DIR=f"{self.workdir}/spool",
            ADMIN_API_KEY=ADMIN_KEY,
            BIND_ADDR=f"127.0.0.1:{self.port}",
            RUST_LOG="info",
            # Bounded reads: a query past these answers 503 timeout or 422 query_too_large.
            REQUEST_TIMEOUT_SECONDS="20",
            QUERY_MEMORY_BYTES=str(256 * MiB),
        )
        if self.arena_max:
            env["MALLOC_ARENA_MAX"] = str(self.arena_max)
        cmd = [self.binary]
        if self.as_bytes:
            cmd = ["prlimit", f"--as={self.as_bytes}", "--"] + cmd
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf, start_new_session=True)
        logf.close()
        with open(os.path.join(self.workdir, "server.pid"), "w") as f:
            f.write(str(self.proc.pid))
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start ({self.proc.returncode}); see {self.log_path}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not answer /health in 60 s")

    def status(self) -> dict:
        out = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmHWM", "VmRSS", "VmPeak", "VmSize", "Threads"):
                        out[k] = int(v.split()[0])
        except (OSError, AttributeError):
            pass
        return out

    def sample(self) -> None:
        st = self.status()
        self.peak_rss_kb = max(self.peak_rss_kb, st.get("VmHWM", 0))
        self.peak_vm_kb = max(self.peak_vm_kb, st.get("VmPeak", 0))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.sample()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Sending


@dataclass
class Result:
    case: str
    attempt: int
    status: int | None = None
    code: str | None = None
    problem: str = ""
    seconds: float = 0.0
    dataset_name: str = ""


@dataclass
class Run:
    server: Server
    project_id: str
    version_target: str
    read_target: str
    in_flight: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rss_peak_case: tuple = (0, [])


READ_ROWS = 300_000


def upload_large_versions(s: requests.Session, base: str, project_id: str) -> str:
    """A dataset of two versions of READ_ROWS rows each, for the read cases."""
    def csv(shift: int) -> bytes:
        return b"id,amount,label\n" + b"".join(
            f"{i},{(i * 7 + shift) % 1000 / 4},label {(i + shift) % 997}\n".encode() for i in range(READ_ROWS))
    up = s.post(f"{base}/api/datasets/upload", data={"project_id": project_id, "name": "hostile reads"},
                files={"file": ("reads.csv", csv(0), "text/csv")}, timeout=120)
    up.raise_for_status()
    dataset = up.json()["dataset_id"]
    s.post(f"{base}/api/datasets/{dataset}/versions", data={"description": "hostile reads v1"},
           files={"file": ("reads1.csv", csv(1), "text/csv")}, timeout=120).raise_for_status()
    return dataset


def judge(case: Case, res: Result, resp: requests.Response | None) -> None:
    if resp is None:
        if case.expect not in ("4xx_or_close", "none"):
            res.problem = res.problem or "no HTTP answer"
        return
    res.status = resp.status_code
    try:
        body = resp.json()
        res.code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    except ValueError:
        body = None
    s = resp.status_code
    if case.expect == "bounded" and (s < 300 or (400 <= s < 500 and res.code) or (s == 503 and res.code == "timeout")):
        return
    if case.expect == "414":
        if s != 414:
            res.problem = f"answered {s}, not 414 URI Too Long"
        return
    if s >= 500:
        res.problem = f"answered {s}: {resp.text[:200]}"
    elif s == 201:
        if case.expect not in ("201", "4xx_or_201"):
            res.problem = f"answered 201 but the input must be refused: {resp.text[:200]}"
    elif 400 <= s < 500:
        if case.expect == "201":
            res.problem = f"answered {s} but the input is valid: {resp.text[:300]}"
        elif not res.code:
            res.problem = f"answered {s} without a JSON error code: {resp.text[:200]}"
    else:
        res.problem = f"answered {s}: {resp.text[:200]}"


def raw_request(run: Run, path: str, content_type: str, body: bytes, timeout: float = 60) -> tuple[int | None, bytes]:
    """POSTs body on a fresh socket; returns (status, response body) or (None, b"") when the
    server closed the connection without an answer."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=timeout) as s:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (ConnectionResetError, socket.timeout):
            pass
    data = b"".join(chunks)
    if not data.startswith(b"HTTP/1.1 "):
        return None, b""
    status = int(data[9:12])
    _, _, rest = data.partition(b"\r\n\r\n")
    return status, rest


class FakeResponse:
    def __init__(self, status: int, body: bytes):
        self.status_code, self.content = status, body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def send(run: Run, case: Case, attempt: int, content: bytes) -> Result:
    res = Result(case.name, attempt)
    res.dataset_name = f"hostile {case.name} #{attempt}"
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    t0 = time.monotonic()
    resp = None
    try:
        if case.kind == "upload":
            resp = s.post(f"{run.server.base}/api/datasets/upload",
                          data={"project_id": run.project_id, "name": res.dataset_name},
                          files={"file": (case.filename, content, "application/octet-stream")}, timeout=240)
        elif case.kind == "version":
            resp = s.post(f"{run.server.base}/api/datasets/{run.version_target}/versions",
                          data={"description": res.dataset_name},
                          files={"file": (case.filename, content, "application/octet-stream")}, timeout=240)
        elif case.kind == "raw":
            body = content.replace(b"PROJECT", run.project_id.encode()).replace(
                b'name="name"\r\n\r\nx', f'name="name"\r\n\r\n{res.dataset_name}'.encode())
            body = body.replace(b"\r\n\r\nlong boundary\r\n", f"\r\n\r\n{res.dataset_name}\r\n".encode())
            status, rbody = raw_request(run, "/api/datasets/upload", case.content_type, body)
            if status is not None:
                resp = FakeResponse(status, rbody)
        elif case.kind == "rows":
            resp = s.get(f"{run.server.base}/api/datasets/{run.read_target}/rows?{content.decode()}", timeout=120)
        elif case.kind == "query":
            resp = s.post(f"{run.server.base}/api/datasets/{run.read_target}/query", data=content,
                          headers={"Content-Type": "application/json"}, timeout=120)
        elif case.kind == "range":
            resp = s.get(f"{run.server.base}/api/datasets/{run.read_target}/download",
                         params={"format": "parquet", "version": "0"}, headers={"Range": content.decode()}, timeout=120)
        elif case.kind == "slow":
            slow_drip(run)
        elif case.kind == "disconnect":
            disconnect_mid_body(run)
    except requests.RequestException as e:
        res.problem = f"no HTTP answer: {type(e).__name__}"
    except OSError as e:
        res.problem = f"socket error: {e!r}"
    res.seconds = time.monotonic() - t0
    judge(case, res, resp)
    if res.status == 201 and not res.problem and case.rows is not None:
        try:
            body = resp.json()
            if "row_count" in body:
                rows = body["row_count"]
            else:
                rows = s.get(f"{run.server.base}/api/datasets/{body['dataset_id']}", timeout=60).json()["dataset"]["rows"]
            if rows != case.rows:
                res.problem = f"accepted with {rows} rows; the file holds {case.rows}"
        except (requests.RequestException, ValueError, KeyError) as e:
            res.problem = f"accepted, but its row count could not be read: {e!r}"
    return res


def slow_drip(run: Run) -> None:
    body_len = 10 * MiB
    head = (f"POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {body_len}\r\n\r\n").encode()
    pre = (f'--B\r\nContent-Disposition: form-data; name="project_id"\r\n\r\n{run.project_id}\r\n'
           '--B\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n\r\na,b\n').encode()
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=30) as s:
        s.sendall(head + pre)
        for _ in range(8):
            time.sleep(1)
            s.sendall(b"1,2")  # 3 bytes a second
        # Meanwhile the server must serve others.
        r = requests.get(run.server.base + "/health", timeout=5)
        if r.status_code != 200:
            raise OSError(f"/health answered {r.status_code} during a slow drip")


def disconnect_mid_body(run: Run) -> None:
    body_len = 20 * MiB
    head = (f"POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {body_len}\r\n\r\n").encode()
    pre = (f'--B\r\nContent-Disposition: form-data; name="project_id"\r\n\r\n{run.project_id}\r\n'
           '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nhostile disconnect\r\n'
           '--B\r\nContent-Disposition: form-data; name="file"; filename="cut.csv"\r\n\r\na,b\n').encode()
    chunk = b"1,2\n" * 16384
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=30) as s:
        s.sendall(head + pre)
        sent = 0
        while sent < 5 * MiB:
            s.sendall(chunk)
            sent += len(chunk)
        s.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------


def files_under(root: str) -> set[str]:
    out = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--workdir")
    ap.add_argument("--as-bytes", type=int, default=2048 * MiB, help="address-space cap (0: none)")
    ap.add_argument("--malloc-arena-max", type=int, default=2,
                    help="MALLOC_ARENA_MAX for the server (0: glibc's default, 8 arenas per core)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--list", action="store_true", help="list the corpus and exit")
    args = ap.parse_args()
    cases = corpus()
    if args.list:
        for c in cases:
            print(f"{c.name:32} {c.kind:10} expect {c.expect:12} {c.note}")
        return 0
    if not args.binary or not args.workdir:
        ap.error("--binary and --workdir are required")
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
        if not cases:
            ap.error("no case matches --only")
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    log(f"seed {args.seed}; {len(cases)} cases x {args.repeat}, {args.workers} workers; "
        + (f"address-space cap {args.as_bytes / MiB:.0f} MiB" if args.as_bytes else "no cap")
        + (f", MALLOC_ARENA_MAX={args.malloc_arena_max}" if args.malloc_arena_max else ""))
    server = Server(args.binary, args.workdir, args.as_bytes, args.malloc_arena_max)
    started = time.monotonic()
    failures: list[str] = []
    results: list[Result] = []
    try:
        server.start()
        if args.as_bytes:
            with open(f"/proc/{server.proc.pid}/limits") as f:
                line = next(line_ for line_ in f if line_.startswith("Max address space"))
            log("server limits: " + " ".join(line.split()))
            if str(args.as_bytes) not in line:
                raise RuntimeError(f"the cap is not applied: {line.strip()}")
        idle = server.status()
        log(f"idle server: VmRSS {idle.get('VmRSS', 0) / 1024:.0f} MiB, VmSize {idle.get('VmSize', 0) / 1024:.0f} MiB, "
            f"{idle.get('Threads')} threads")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        project_id = s.post(f"{server.base}/api/projects", json={"name": "hostile"}, timeout=30).json()["id"]
        seed = s.post(f"{server.base}/api/datasets/upload", data={"project_id": project_id, "name": "hostile seed"},
                      files={"file": ("seed.csv", b"a,b\n1,2\n3,4\n", "text/csv")}, timeout=30)
        seed.raise_for_status()
        read_target = upload_large_versions(s, server.base, project_id)
        run = Run(server, project_id, seed.json()["dataset_id"], read_target)

        # Materialize the inputs once (some take a moment), then send them in a seeded order.
        contents = {c.name: c.make() for c in cases}
        log(f"corpus built: {len(cases)} inputs, {sum(len(v) for v in contents.values()) / MiB:.1f} MiB in all")
        jobs = [(c, a) for c in cases for a in range(1, args.repeat + 1)]
        random.Random(args.seed).shuffle(jobs)
        by_name = {c.name: c for c in cases}

        stop_sampler = threading.Event()

        def sampler() -> None:
            last = 0
            while not stop_sampler.is_set():
                st = server.status()
                rss = st.get("VmRSS", 0)
                if os.environ.get("HOSTILE_TRACE_VM") and st.get("VmSize", 0) > getattr(server, "_vm_seen", 0):
                    server._vm_seen = st["VmSize"]
                    with run.lock:
                        flying = sorted(run.in_flight.values())
                    log(f"VmSize {st['VmSize'] // 1024} MiB, VmRSS {rss // 1024} MiB, {st.get('Threads')} threads; in flight {flying}")
                server.sample()
                with run.lock:
                    if rss > run.rss_peak_case[0]:
                        run.rss_peak_case = (rss, sorted(run.in_flight.values()))
                if not server.alive() and last != server.starts:
                    last = server.starts
                time.sleep(0.02)

        sampler_thread = threading.Thread(target=sampler, daemon=True)
        sampler_thread.start()
        restart_lock = threading.Lock()

        def work(job) -> Result:
            case, attempt = job
            key = (case.name, attempt, threading.get_ident())
            with run.lock:
                run.in_flight[key] = f"{case.name}#{attempt}"
            try:
                res = send(run, case, attempt, contents[case.name])
            finally:
                with run.lock:
                    run.in_flight.pop(key, None)
            with restart_lock:
                if not server.alive():
                    with run.lock:
                        others = sorted(run.in_flight.values())
                    msg = (f"the server died (exit {server.proc.returncode}) while sending {case.name}#{attempt}"
                           f" (also in flight: {others})")
                    server.deaths.append(msg)
                    log(msg)
                    server.sample()
                    server.start()
            return res

        with cf.ThreadPoolExecutor(args.workers) as pool:
            for res in pool.map(work, jobs):
                results.append(res)
                flag = "PROBLEM " + res.problem if res.problem else ""
                print(f"  {res.case + '#' + str(res.attempt):40} {str(res.status):5} {str(res.code):22} "
                      f"{res.seconds:6.2f}s {flag}", flush=True)
        stop_sampler.set()
        sampler_thread.join()

        # --- end state
        time.sleep(1.0)  # let dropped requests finish cleaning up
        if not server.alive():
            failures.append(f"the server is not running at the end (exit {server.proc.returncode})")
        else:
            r = requests.get(server.base + "/health", timeout=10)
            if r.status_code != 200:
                failures.append(f"/health answered {r.status_code} at the end")
        failures += server.deaths
        for res in results:
            if res.problem:
                failures.append(f"{res.case}#{res.attempt}: {res.problem}")
        accepted = {res.dataset_name for res in results if res.status == 201 and by_name[res.case].kind != "version"}
        accepted_versions = {res.dataset_name for res in results if res.status == 201 and by_name[res.case].kind == "version"}
        items, offset = [], 0
        while True:
            page = s.get(f"{server.base}/api/datasets", params={"project_id": project_id, "limit": 500, "offset": offset},
                         timeout=30).json()
            items += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        listed = {d["name"] for d in items} - {"hostile seed", "hostile reads"}
        if listed != accepted:
            failures.append(f"stored datasets differ from the accepted uploads: extra {sorted(listed - accepted)[:5]},"
                            f" missing {sorted(accepted - listed)[:5]}")
        versions = s.get(f"{server.base}/api/datasets/{run.version_target}/versions", params={"limit": 100}, timeout=30).json()
        extra_versions = {v["description"] for v in versions["items"] if v["version"] > 0}
        if extra_versions != accepted_versions:
            failures.append(f"versions of the seed dataset differ from the accepted version uploads: {sorted(extra_versions)}")
        # Files: exactly those the artifacts table references; nothing in the spool.
        con = sqlite3.connect(f"file:{args.workdir}/db.sqlite?mode=ro", uri=True)
        referenced = {row[0] for row in con.execute("SELECT storage_key FROM artifacts")}
        con.close()
        on_disk = files_under(os.path.join(args.workdir, "artifacts"))
        if on_disk != referenced:
            failures.append(f"artifact folder differs from the artifacts table: unreferenced {sorted(on_disk - referenced)[:5]},"
                            f" missing {sorted(referenced - on_disk)[:5]}")
        # The query engine's spill folder (`query/`) stays; what a query spilled must be gone.
        spool = sorted(files_under(os.path.join(args.workdir, "spool")))
        if spool:
            failures.append(f"{len(spool)} file(s) left in SPOOL_DIR: {spool[:5]}")
        server.sample()

        # --- report
        outcome: dict[str, set] = {}
        for res in results:
            outcome.setdefault(res.case, set()).add(
                f"{res.status} {res.code}" if res.status else ("no answer" if by_name[res.case].expect != "none" else "n/a"))
        log("outcomes by input:")
        for c in cases:
            print(f"  {c.name:32} expect {c.expect:12} got {', '.join(sorted(outcome.get(c.name, {'-'})))}"
                  + (f"   ({c.note})" if c.note else ""), flush=True)
        summary = {
            "seed": args.seed,
            "address_space_cap_bytes": args.as_bytes,
            "address_space_cap_mib": round(args.as_bytes / MiB) if args.as_bytes else None,
            "malloc_arena_max": args.malloc_arena_max or None,
            "inputs": len(cases),
            "requests": len(results),
            "answered_201": sum(1 for r in results if r.status == 201),
            "answered_4xx": sum(1 for r in results if r.status and 400 <= r.status < 500),
            "answered_5xx": sum(1 for r in results if r.status and r.status >= 500),
            "no_answer": sum(1 for r in results if r.status is None),
            "server_deaths": len(server.deaths),
            "peak_rss_mib": round(server.peak_rss_kb / 1024, 1),
            "peak_address_space_mib": round(server.peak_vm_kb / 1024, 1),
            "rss_peak_sampled_mib": round(run.rss_peak_case[0] / 1024, 1),
            "in_flight_at_rss_peak": run.rss_peak_case[1],
            "datasets_stored": len(listed),
            "seconds": round(time.monotonic() - started, 1),
        }
        log("summary:")
        print(json.dumps(summary, indent=2), flush=True)
        if failures:
            log(f"FAILED: {len(failures)} problem(s):")
            for f_ in failures[:60]:
                print("  - " + f_, flush=True)
            return 1
        log("PASSED")
        return 0
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        log(f"setup error: {e!r}")
        return 2
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
