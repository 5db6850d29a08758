#!/usr/bin/python3
"""A scripted Kubernetes API server for the VM layer, where no cluster
runs (a real kube-apiserver under TCG takes minutes to start): plain HTTP
on loopback, the calls `agentfence daemon --kubernetes` makes, objects
from files the test writes.

  kubeapi.py DIR PORTFILE

DIR/pods/*.json are the node's pods, DIR/configmaps/*.json the policy
ConfigMaps (one object per file; a file written, changed or removed is a
watch event). Lists (GET /api/v1/pods?..., /api/v1/namespaces/NS/
configmaps?...) answer the files; a watch (watch=1) streams ADDED,
MODIFIED and DELETED as the files change, for at most timeoutSeconds (and
never more than 600 s). Events (POST .../events) are appended to
DIR/events.jsonl. Every request line goes to DIR/requests.log. The port it
listens on (127.0.0.1, chosen by the kernel) is written to PORTFILE.
"""
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

DIR, PORTFILE = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
RV = [1]


def snapshot(kind):
    """name -> (text, object) of the files of kind now."""
    out = {}
    d = os.path.join(DIR, kind)
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not f.endswith(".json"):
            continue
        try:
            with open(os.path.join(d, f)) as fp:
                text = fp.read()
            out[f] = (text, json.loads(text))
        except (OSError, ValueError):
            continue  # being written: the next look
    return out


def stamped(obj):
    with LOCK:
        RV[0] += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(RV[0])
    return obj


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(os.path.join(DIR, "requests.log"), "a") as fp:
            fp.write("%s %s\n" % (self.command, self.path))

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        if self.path.endswith("/events"):
            with open(os.path.join(DIR, "events.jsonl"), "a") as fp:
                fp.write(body.replace("\n", " ") + "\n")
            self.send_json(201, json.loads(body or "{}"))
        else:
            self.send_json(404, {"kind": "Status", "code": 404})

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/api/v1/pods":
            kind = "pods"
        elif u.path.startswith("/api/v1/namespaces/") and u.path.endswith("/configmaps"):
            kind = "configmaps"
        else:
            self.send_json(404, {"kind": "Status", "code": 404})
            return
        if q.get("watch") != ["1"]:
            items = [stamped(o) for _, o in snapshot(kind).values()]
            with LOCK:
                rv = str(RV[0])
            self.send_json(200, {"kind": "List", "metadata": {"resourceVersion": rv}, "items": items})
            return
        self.watch(kind, min(int((q.get("timeoutSeconds") or ["300"])[0]), 600))

    def watch(self, kind, timeout):
        # HTTP/1.0: the stream ends when the connection does.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        seen = {f: t for f, (t, _) in snapshot(kind).items()}
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                now = snapshot(kind)
                for f, (t, o) in now.items():
                    if seen.get(f) != t:
                        ev = {"type": "MODIFIED" if f in seen else "ADDED", "object": stamped(o)}
                        self.wfile.write((json.dumps(ev) + "\n").encode())
                        seen[f] = t
                for f in [f for f in seen if f not in now]:
                    old = json.loads(seen.pop(f))
                    self.wfile.write((json.dumps({"type": "DELETED", "object": stamped(old)}) + "\n").encode())
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as fp:
    fp.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
