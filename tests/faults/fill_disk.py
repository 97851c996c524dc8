#!/usr/bin/env python3
"""Fills the file system of DIR to the last byte, like another process that
takes the disk from under vigil: writes DIR/fill.N files until ENOSPC, with
ever smaller writes down to one byte, then (--keep) takes back every byte
freed later, checking every 50 ms, until killed. Prints "full" once the
file system is full the first time.

  fill_disk.py DIR [--keep]"""
import errno
import os
import sys
import time

d = sys.argv[1]
keep = "--keep" in sys.argv[2:]
zeros = b"\0" * (1 << 20)
n = 0


def fill():
    global n
    fd = os.open(f"{d}/fill.{n}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    n += 1
    bs = len(zeros)
    try:
        while bs >= 1:
            try:
                os.write(fd, zeros[:bs])
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                bs //= 2
    finally:
        os.close(fd)


fill()
print("full", flush=True)
while keep:
    time.sleep(0.05)
    if os.statvfs(d).f_bavail > 0:
        fill()
