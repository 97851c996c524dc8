#!/usr/bin/env python3
"""The soak's failing sink: a webhook receiver on 127.0.0.1 that answers 503
for --down seconds out of every --period seconds (the first outage starts
after one period), 200 otherwise, and appends the alerts it accepted (one
JSON alert per line; batches are split) to --out.

  flaky_receiver.py --port-file FILE --out FILE [--period 60] [--down 10]"""
import argparse
import http.server
import json
import os
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--period", type=float, default=60)
    ap.add_argument("--down", type=float, default=10)
    args = ap.parse_args()
    t0 = time.monotonic()
    out = open(args.out, "a", encoding="utf-8")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            down = (time.monotonic() - t0) % args.period >= args.period - args.down
            status = 503 if down else 200
            if not down:
                doc = json.loads(body)
                with lock:
                    for a in doc if isinstance(doc, list) else [doc]:
                        out.write(json.dumps(a) + "\n")
                    out.flush()
            reply = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
