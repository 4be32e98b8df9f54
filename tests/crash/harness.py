"""The processes of tests/crash/crash_test.py: the server under test (started, killed and
restarted on the same data folder) and a webhook receiver on 127.0.0.1, with the helpers both
use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ADMIN_KEY = "crash-test-admin-key-0123456789"


def log(msg: str) -> None:
    print(f"[crash {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# The server under test


class Server:
    """The datasets-api process; start/kill/restart on one data dir."""

    def __init__(self, binary: str, workdir: str):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.starts = 0
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.log_path = os.path.join(workdir, "server.log")
        self.pidfile = os.path.join(workdir, "server.pid")

    def env(self, grace: int) -> dict:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(
            DATABASE_URL=f"sqlite://{self.workdir}/db.sqlite",
            STORAGE_URL=f"{self.workdir}/artifacts",
            SPOOL_DIR=f"{self.workdir}/spool",
            ADMIN_API_KEY=ADMIN_KEY,
            BIND_ADDR=f"127.0.0.1:{self.port}",
            SWEEP_GRACE_SECONDS=str(grace),
            SWEEP_INTERVAL_SECONDS="3600",
            WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
            WEBHOOK_RETRY_SCHEDULE="1,1,1,1,1,1,1,1,1,1",
            LOG_FORMAT="json",
            RUST_LOG="info",
        )
        return env

    def start(self, grace: int = 3600, timeout: float = 60.0) -> None:
        with self.lock:
            assert self.proc is None
            logf = open(self.log_path, "ab")
            logf.write(f"--- start #{self.starts + 1} (SWEEP_GRACE_SECONDS={grace})\n".encode())
            logf.flush()
            self.proc = subprocess.Popen(
                [self.binary],
                env=self.env(grace),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                start_new_session=True,
            )
            logf.close()
            with open(self.pidfile, "w") as f:
                f.write(str(self.proc.pid))
            self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    self.generation += 1
                    self.up.set()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /health within {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        with self.lock:
            self.up.clear()
            if self.proc is not None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.proc = None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 10 s."""
        with self.lock:
            self.up.clear()
            if self.proc is not None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                self.proc = None


# ---------------------------------------------------------------------------------------------
# Webhook receiver


class HookReceiver:
    """Records every `version.created` delivery to 127.0.0.1 (answered 204) and whether its
    Standard Webhooks signature verifies with `secret` (set once the webhook is registered)."""

    def __init__(self):
        self.secret: bytes | None = None
        self.lock = threading.Lock()
        self.version_ids: dict[str, int] = {}  # dataset_version_id -> deliveries received
        self.bad_signatures: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode() + body
                expected = "v1," + base64.b64encode(hmac.new(receiver.secret, signed, hashlib.sha256).digest()).decode()
                with receiver.lock:
                    if expected not in self.headers.get("webhook-signature", "").split(" "):
                        receiver.bad_signatures.append(self.headers.get("webhook-id", "?"))
                    else:
                        event = json.loads(body)
                        version_id = event["data"]["dataset_version_id"]
                        receiver.version_ids[version_id] = receiver.version_ids.get(version_id, 0) + 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> dict[str, int]:
        with self.lock:
            return dict(self.version_ids)
