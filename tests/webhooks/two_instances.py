"""Two server instances on one PostgreSQL database deliver one project's webhook events: every
event arrives, and no event is ever being delivered by both at once.

The receiver (127.0.0.1, in this process) holds each request 300 ms and records, per
`webhook-id`, how many requests are in flight at once; any overlap fails the check. Uploads
alternate between the instances, and both dispatchers run. Environment: BASE_URLS (two, space
separated), KEY. Exit status 0 when every check passed.

What this run can and cannot show: the window in which two claims could race is a few
microseconds wide, so a run without overlaps does not prove exclusivity. That is proven by the
store's contract test `two_stores_claiming_at_once_never_hold_the_same_attempt` (eight claims at
once through two connections), which fails on SQLite and PostgreSQL when the claim's condition
on the lease token is removed (checked on 2026-12-05). This run checks the whole path: both
dispatchers running, every event delivered once the instances share the work.
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks import Webhook

BASES, KEY = os.environ["BASE_URLS"].split(), os.environ["KEY"]
AUTH = {"Authorization": f"Bearer {KEY}"}
UPLOADS = 24
lock = threading.Lock()
in_flight: dict[str, int] = {}
overlaps: list[str] = []
delivered: dict[str, int] = {}  # dataset_version_id -> deliveries
secret = {}


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        event = Webhook(secret["value"]).verify(body, dict(self.headers))
        event_id = self.headers["webhook-id"]
        with lock:
            in_flight[event_id] = in_flight.get(event_id, 0) + 1
            if in_flight[event_id] > 1:
                overlaps.append(event_id)
        time.sleep(0.3)
        with lock:
            in_flight[event_id] -= 1
            version = event["data"]["dataset_version_id"]
            delivered[version] = delivered.get(version, 0) + 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    project = requests.post(f"{BASES[0]}/api/projects", json={"name": "two instances"}, headers=AUTH, timeout=30).json()["id"]
    hook = requests.post(f"{BASES[1]}/api/projects/{project}/webhooks", headers=AUTH, timeout=30,
                         json={"url": url, "events": ["version.created"]})
    hook.raise_for_status()
    secret["value"] = hook.json()["secret"]
    versions = []
    for i in range(UPLOADS):
        base = BASES[i % 2]
        files = {"file": (f"f{i}.csv", f"id,x\n{i},a\n".encode())}
        up = requests.post(f"{base}/api/datasets/upload", headers=AUTH, timeout=60,
                           data={"project_id": project, "name": f"d{i}"}, files=files)
        up.raise_for_status()
        versions.append(up.json()["dataset_version_id"])
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if all(v in delivered for v in versions):
                break
        time.sleep(0.2)
    with lock:
        missing = [v for v in versions if v not in delivered]
        twice = sum(1 for v in versions if delivered.get(v, 0) > 1)
    print(f"two instances: {len(versions) - len(missing)}/{len(versions)} events delivered, "
          f"{twice} more than once, {len(overlaps)} overlapping deliveries")
    if missing:
        sys.exit(f"events never delivered: {missing[:5]}")
    if overlaps:
        sys.exit(f"events delivered by both instances at once: {overlaps[:5]}")


main()
