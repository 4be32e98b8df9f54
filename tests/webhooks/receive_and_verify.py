"""Receives a running server's webhook deliveries on 127.0.0.1 and verifies each with the
reference Standard Webhooks library, unmodified (`standardwebhooks.Webhook.verify`).

The receiver answers 500 to the first delivery, so that it arrives twice with the same
`webhook-id`. Then: dataset.created, version.created (twice), alias.moved and dataset.deleted
must all arrive, verified, within 30 s; a request whose signature does not verify fails the
check. Environment: BASE_URL, KEY (the admin's key). Exit status 0 when every check passed.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks import Webhook, WebhookVerificationError

BASE_URL, KEY = os.environ["BASE_URL"], os.environ["KEY"]
AUTH = {"Authorization": f"Bearer {KEY}"}
received = []  # (webhook-id, event type) of every verified request
refused = []   # why a request did not verify
lock = threading.Lock()
secret = {}


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = Webhook(secret["value"]).verify(body, dict(self.headers))
        except WebhookVerificationError as e:
            with lock:
                refused.append(str(e))
            self.send_response(400)
            self.end_headers()
            return
        with lock:
            received.append((self.headers["webhook-id"], event["type"]))
            first = len(received) == 1
        self.send_response(500 if first else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(method, path, **kwargs):
    reply = requests.request(method, BASE_URL + path, headers=AUTH, timeout=30, **kwargs)
    if reply.status_code >= 400:
        sys.exit(f"{method} {path}: {reply.status_code} {reply.text}")
    return reply.json() if reply.content else None


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    project = call("POST", "/api/projects", json={"name": "webhooks check"})["id"]
    events = ["dataset.created", "version.created", "alias.moved", "dataset.deleted"]
    hook = call("POST", f"/api/projects/{project}/webhooks", json={"url": url, "events": events})
    secret["value"] = hook["secret"]
    files = {"file": ("a.csv", b"id,x\n1,a\n2,b\n")}
    up = call("POST", "/api/datasets/upload", data={"project_id": project, "name": "checked"}, files=files)
    dataset = up["dataset_id"]
    call("POST", f"/api/datasets/{dataset}/versions", data={"description": "next"}, files={"file": ("b.csv", b"id,x\n3,c\n")})
    call("PUT", f"/api/datasets/{dataset}/aliases/production", json={"version": 1})
    requests.delete(f"{BASE_URL}/api/datasets/{dataset}", headers=AUTH, timeout=30).raise_for_status()
    wanted = {"dataset.created": 1, "version.created": 2, "alias.moved": 1, "dataset.deleted": 1}
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            counts = {}
            for _, kind in received:
                counts[kind] = counts.get(kind, 0) + 1
            first_id = received[0][0] if received else None
            retried = first_id is not None and sum(1 for i, _ in received if i == first_id) >= 2
        if all(counts.get(k, 0) >= n for k, n in wanted.items()) and retried:
            break
        time.sleep(0.2)
    deliveries = call("GET", f"/api/webhooks/{hook['id']}/deliveries?limit=100")
    print(json.dumps({"received": received, "deliveries": [(d["type"], d["status"], d["attempts"]) for d in deliveries["items"]]}))
    if refused:
        sys.exit(f"deliveries that did not verify: {refused}")
    if not all(counts.get(k, 0) >= n for k, n in wanted.items()):
        sys.exit(f"missing events: got {counts}, wanted {wanted}")
    if not retried:
        sys.exit("the delivery answered 500 was not delivered again with the same webhook-id")
    print(f"webhooks: {len(received)} deliveries verified by standardwebhooks, the first one retried")


main()
