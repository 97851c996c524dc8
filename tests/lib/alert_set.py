#!/usr/bin/env python3
"""Prints the alerts of NDJSON alert files as sorted, unique "id state ts"
lines (a file that does not exist counts as empty): two runs that emit the
same transitions, repeats after a restart included, print the same set.

  alert_set.py FILE..."""
import json
import sys

seen = set()
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                a = json.loads(line)
                seen.add(f"{a['id']} {a['state']} {a['ts']}")
    except FileNotFoundError:
        pass
print("\n".join(sorted(seen)))
