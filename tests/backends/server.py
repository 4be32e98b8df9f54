"""Starting and stopping the real datasets-api binary for the backend scripts."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The binary on 127.0.0.1, with `env` on top of this process's environment."""

    def __init__(self, binary, env, name="server"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.work = tempfile.mkdtemp(prefix=f"datasets-api-{name}-")
        self.log_path = os.path.join(self.work, "server.log")
        full_env = dict(os.environ)
        full_env.update(env)
        full_env.update({"BIND_ADDR": f"127.0.0.1:{self.port}", "SPOOL_DIR": os.path.join(self.work, "spool")})
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary], env=full_env, cwd=self.work, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited at start:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not become ready:\n{self.tail()}")

    def peak_rss_mib(self):
        """The process's peak resident memory (VmHWM), in MiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def tail(self, lines=30):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Client:
    def __init__(self, server, key):
        self.base = server.url
        self.headers = {"Authorization": f"Bearer {key}"}

    def call(self, method, path, expect, **kw):
        resp = requests.request(method, f"{self.base}{path}", headers=self.headers, timeout=600, **kw)
        if resp.status_code != expect:
            raise AssertionError(f"{method} {path}: {resp.status_code} (expected {expect}): {resp.text[:500]}")
        return resp

    def project(self, name):
        return self.call("POST", "/api/projects", 201, json={"name": name}).json()["id"]

    def upload(self, project, name, filename, data, expect=201):
        files = {"file": (filename, data, "text/csv")}
        return self.call("POST", "/api/datasets/upload", expect, data={"project_id": project, "name": name},
                         files=files)

    def new_version(self, dataset, description, filename, data, expect=201):
        files = {"file": (filename, data, "text/csv")}
        return self.call("POST", f"/api/datasets/{dataset}/versions", expect, data={"description": description},
                         files=files)
