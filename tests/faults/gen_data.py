#!/usr/bin/env python3
"""Deterministic sensor messages for the fault-injection tests: NDJSON, one
message per (step, device), event time 1 s apart per step, temperatures
that cross the thresholds of the tests' rules regularly.

  gen_data.py --devices N --steps S [--start-step K] [--pad BYTES]

--pad adds a string tag of that many bytes (bigger state/messages)."""
import argparse
import math

ap = argparse.ArgumentParser()
ap.add_argument("--devices", type=int, required=True)
ap.add_argument("--steps", type=int, required=True)
ap.add_argument("--start-step", type=int, default=0)
ap.add_argument("--pad", type=int, default=0)
a = ap.parse_args()
base = 1767225600000  # 2026-01-01T00:00:00Z
pad = "x" * a.pad
lines = []
for step in range(a.start_step, a.start_step + a.steps):
    for d in range(a.devices):
        temp = 25 + 7 * math.sin((step + 3 * d) / 9.0)
        extra = f',"note":"{pad}"' if a.pad else ""
        lines.append(f'{{"ts":{base + step * 1000},"device":"d{d}","zone":"z{d % 4}","temp":{temp:.3f}{extra}}}')
print("\n".join(lines))
