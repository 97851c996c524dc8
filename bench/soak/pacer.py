#!/usr/bin/env python3
"""The soak's load: reads NDJSON on stdin and POSTs it to vigil's
/api/v1/ingest in bodies of --lines lines over one keep-alive connection
(order kept), at --rate lines per second on average, until stdin ends.
Prints one line per 10 s: lines sent, rate, 202 answers' accepted count.

  pacer.py --url http://127.0.0.1:PORT/api/v1/ingest --rate 200000 [--lines 5000]"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--lines", type=int, default=5000)
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    stdin = sys.stdin.buffer
    sent = accepted = 0
    t0 = last = time.monotonic()
    while True:
        chunk = stdin.readlines(args.lines * 110)  # ~lines lines of ~110 bytes
        if not chunk:
            break
        body = b"".join(chunk)
        while True:
            try:
                conn.request("POST", u.path, body, {"Content-Type": "application/x-ndjson"})
                r = conn.getresponse()
                answer = r.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                time.sleep(0.5)
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        if r.status != 202:
            print(f"pacer: ingest answered {r.status}: {answer[:200]!r}", file=sys.stderr)
            sys.exit(1)
        accepted += json.loads(answer).get("accepted", 0)
        sent += len(chunk)
        ahead = sent / args.rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
        now = time.monotonic()
        if now - last >= 10:
            print(f"pacer: {sent} lines, {sent / (now - t0):.0f}/s, accepted {accepted}", flush=True)
            last = now
    print(f"pacer: done, {sent} lines in {time.monotonic() - t0:.1f} s, accepted {accepted}", flush=True)


if __name__ == "__main__":
    main()
