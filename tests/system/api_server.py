#!/usr/bin/env python3
"""The nixcloud API for the system test: a real HTTP server on 127.0.0.1.

    api_server.py serve DIR        listen on 127.0.0.1 (port written to DIR/port)
    api_server.py count DIR PATH [FIELD=VALUE | FIELD!=VALUE ...]
                                   how many requests to PATH had those fields

Every POST is appended to DIR/requests.jsonl (path, Authorization header, Idempotency-Key,
the JSON body). DIR/mode decides the answer: "200" (default) answers 200 {}, "503" answers
503 and records nothing (the result was not taken), "hang" accepts the connection and never
answers. The server stops by itself after DIR/ttl seconds (default 1800), so no test leaves it
behind.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(d):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                mode = open(os.path.join(d, "mode")).read().strip()
            except FileNotFoundError:
                mode = "200"
            if mode == "hang":
                time.sleep(3600)
                return
            if mode == "503":
                self.send_response(503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                return
            entry = {
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "idem": self.headers.get("Idempotency-Key"),
                "body": json.loads(body or b"null"),
                "at": time.time(),
            }
            with lock, open(os.path.join(d, "requests.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    ttl = float(open(os.path.join(d, "ttl")).read()) if os.path.exists(os.path.join(d, "ttl")) else 1800
    threading.Timer(ttl, srv.shutdown).start()
    srv.serve_forever()


def field(entry, dotted):
    """entry's value at a dotted path: 'body.payload.name', 'auth', ..."""
    v = entry
    for part in dotted.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def matches(entry, cond):
    """FIELD=VALUE, or FIELD!=VALUE."""
    if "!=" in cond.split("=", 1)[0] + "=":
        k, v = cond.split("!=", 1)
        return str(field(entry, k)) != v
    k, v = cond.split("=", 1)
    return str(field(entry, k)) == v


def count(d, path, conds):
    n = 0
    try:
        lines = open(os.path.join(d, "requests.jsonl")).read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        e = json.loads(line)
        if e["path"] != path:
            continue
        if all(matches(e, c) for c in conds):
            n += 1
    print(n)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "count":
        count(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit("usage: api_server.py serve DIR | count DIR PATH [FIELD=VALUE ...]")
