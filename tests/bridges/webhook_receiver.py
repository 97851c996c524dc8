#!/usr/bin/env python3
"""A webhook receiver for the integration tests: a real HTTP/1.1 server on
127.0.0.1 (keep-alive, like most webhook endpoints) that records every POST
as one JSON line {"path", "status", "authorization", "content_type", "body"}
and answers it with a status chosen by --status (default 200); with
--fail-first N the first N requests get 503 instead (a receiver that is down
for a while, then recovers); with --hang-until FILE every request is read
and then left without an answer (not recorded) until FILE exists, and the
connection is closed (a receiver that hangs, then recovers).

  webhook_receiver.py --port-file FILE --out FILE [--status 400] [--fail-first N] [--hang-until FILE]

It binds port 0 and writes the chosen port to --port-file once it listens.
Stopped by a signal (the test kills it by pid)."""
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
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--hang-until", default="")
    args = ap.parse_args()
    seen = [0]
    out = open(args.out, "a", encoding="utf-8")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.hang_until and not os.path.exists(args.hang_until):
                while not os.path.exists(args.hang_until):
                    time.sleep(0.05)
                self.close_connection = True
                return
            with lock:
                seen[0] += 1
                status = 503 if seen[0] <= args.fail_first else args.status
            record = {
                "path": self.path,
                "status": status,
                "authorization": self.headers.get("Authorization", ""),
                "content_type": self.headers.get("Content-Type", ""),
                "body": body.decode("utf-8"),
            }
            with lock:
                out.write(json.dumps(record) + "\n")
                out.flush()
            reply = b'{"ok":true}' if status < 300 else b'{"error":"refused by the test receiver"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
