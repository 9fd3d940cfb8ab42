#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server, serving recorded EndpointSlice lists over HTTPS.

GET /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices?labelSelector=kubernetes.io/service-name=SVC
answers with ROOT/NS/SVC.json, or ROOT/NS/SVC.continue-TOKEN.json when the
request carries continue=TOKEN; an InferencePool NAME with ROOT/NS/pool-NAME.json,
and a pod list (any labelSelector, which the log shows) with ROOT/NS/pods.json.
With watch=1 (and a resourceVersion) a list request is held until the file it
would answer with changes, then one MODIFIED event is sent, or until
timeoutSeconds pass. The test swaps those files to change what the
"cluster" holds. Like the real server it answers 401 with a Status object to a
wrong bearer token, and it refuses a request without the label selector (the
real one would return every slice of the namespace, which kvlb must not use).
Every request is appended to --log, so a test can wait for the next sync
without sleeping.
"""
import argparse
import json
import os
import re
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH_RE = re.compile(r"^/apis/discovery\.k8s\.io/v1/namespaces/([a-z0-9-]+)/endpointslices$")
POOL_RE = re.compile(r"^/apis/inference\.networking\.x-k8s\.io/v1alpha2/namespaces/([a-z0-9-]+)"
                     r"/inferencepools/([a-z0-9-]+)$")
PODS_RE = re.compile(r"^/api/v1/namespaces/([a-z0-9-]+)/pods$")
SELECTOR_RE = re.compile(r"^kubernetes\.io/service-name=([a-z0-9-]+)$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_=-]+$")


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    def send_json(self, code, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        opts = self.server.opts
        with open(opts.log, "a") as f:
            f.write(f"GET {self.path} auth={'ok' if self.authorized() else 'bad'}\n")
        if not self.authorized():
            with open(os.path.join(opts.recorded, "status-401.json"), "rb") as f:
                return self.send_json(401, f.read())
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        pool = POOL_RE.match(url.path)
        if pool:
            return self.send_file(os.path.join(opts.root, pool.group(1),
                                               f"pool-{pool.group(2)}.json"))
        pods = PODS_RE.match(url.path)
        if pods:
            if not q.get("labelSelector", [""])[0]:
                return self.send_json(400, status(400, "BadRequest", "no labelSelector"))
            return self.send_file(os.path.join(opts.root, pods.group(1), "pods.json"), q)
        m = PATH_RE.match(url.path)
        if not m:
            return self.send_json(404, status(404, "NotFound", "the server could not find "
                                              "the requested resource"))
        sel = SELECTOR_RE.match(q.get("labelSelector", [""])[0])
        if not sel:
            return self.send_json(400, status(400, "BadRequest",
                                              "this server needs labelSelector="
                                              "kubernetes.io/service-name=NAME"))
        name = sel.group(1)
        cont = q.get("continue", [None])[0]
        if cont is not None:
            if not TOKEN_RE.match(cont):
                return self.send_json(400, status(400, "BadRequest", "bad continue token"))
            name += ".continue-" + cont
        self.send_file(os.path.join(opts.root, m.group(1), name + ".json"), q)

    def send_file(self, path, q=None):
        if q and q.get("watch") == ["1"]:
            return self.watch(path, q)
        try:
            with open(path, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return self.send_json(404, status(404, "NotFound", f"no recording {path}"))
        self.send_json(200, body)

    def watch(self, path, q):
        """Like the API server's watch: one event when the recording changes."""
        if not q.get("resourceVersion", [""])[0]:
            return self.send_json(400, status(400, "BadRequest", "watch needs resourceVersion"))
        timeout = min(int(q.get("timeoutSeconds", ["30"])[0]), 60)
        def content():
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return b""
        start = content()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if content() != start:
                self.wfile.write(b'{"type":"MODIFIED","object":{}}\n')
                self.wfile.flush()
                return
            time.sleep(0.05)

    def authorized(self):
        return self.headers.get("Authorization") == "Bearer " + self.server.opts.token

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="directory of NS/SVC.json responses")
    ap.add_argument("--recorded", required=True, help="directory holding status-401.json")
    ap.add_argument("--token", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True, help="the chosen port is written here")
    ap.add_argument("--log", required=True)
    opts = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.opts = opts
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, opts.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
