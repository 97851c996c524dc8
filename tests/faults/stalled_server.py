#!/usr/bin/env python3
"""A TCP server that accepts every connection, reads whatever comes and
never answers: a broker that hangs after the TCP handshake. Listens on
127.0.0.1:PORT (0 = any free port, written to --port-file once listening).
Stopped by a signal (the test kills it by pid).

  stalled_server.py --port PORT --port-file FILE"""
import argparse
import os
import socket
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
args = ap.parse_args()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", args.port))
srv.listen(64)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.getsockname()[1]))
os.replace(tmp, args.port_file)


def swallow(conn):
    with conn:
        while conn.recv(65536):
            pass


while True:
    c, _ = srv.accept()
    threading.Thread(target=swallow, args=(c,), daemon=True).start()
