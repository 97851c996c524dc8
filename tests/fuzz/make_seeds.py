#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets of tests/fuzz into OUT/<target>/.

Seeds come from the repository's own test data: string literals of the unit
tests (messages, timestamps, CSV lines, topics, expressions, rules files),
the examples' and tests' YAML files, and the shared conformance cases
(../shared/conformance). The committed corpus (tests/fuzz/corpus/) is these
seeds plus what fuzzing found, minimized with libFuzzer's -merge=1 (see
tests/fuzz/README.md). Usage: make_seeds.py REPO_ROOT OUT_DIR
"""
import ast
import glob
import hashlib
import os
import re
import sys

ROOT, OUT = sys.argv[1], sys.argv[2]
CONFORMANCE = os.path.join(ROOT, "..", "shared", "conformance")


def write(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def literals(path):
    """C++ string literals of a file: raw strings R"(...)" and "..."."""
    text = open(path, encoding="utf-8", errors="surrogateescape").read()
    out = [m.group(1) for m in re.finditer(r'R"\((.*?)\)"', text, re.S)]
    text = re.sub(r'R"\(.*?\)"', "", text, flags=re.S)
    for m in re.finditer(r'"((?:[^"\\\n]|\\.)*)"', text):
        try:
            out.append(ast.literal_eval('"' + m.group(1) + '"'))
        except (ValueError, SyntaxError):
            pass
    return out


def files(*patterns):
    seen = []
    for p in patterns:
        seen += sorted(glob.glob(os.path.join(ROOT, p), recursive=True))
    return seen


def lines_of(paths, limit):
    out = []
    for p in paths:
        with open(p, encoding="utf-8", errors="surrogateescape") as f:
            out += [l.rstrip("\n") for l in f][:limit]
    return out


ndjson = files("../shared/conformance/*/data.ndjson", "examples/**/*.ndjson", "tests/**/*.ndjson")
messages = lines_of(ndjson, 8)
messages += [s for s in literals(os.path.join(ROOT, "tests/engine/parse/json_parser_test.cc")) if s[:1] in "{[ \"0123456789tfn-"]
# json_message: byte 0 = format (unit, zone, ts field list, small limits).
for i, m in enumerate(messages):
    write("json_message", bytes([i % 256]) + m.encode("utf-8", "surrogateescape"))

# timestamp: byte 0 = unit and zone.
stamps = [s for s in literals(os.path.join(ROOT, "tests/engine/time/timestamp_test.cc")) if len(s) < 64]
for i, s in enumerate(stamps):
    write("timestamp", bytes([i % 64]) + s.encode("utf-8", "surrogateescape"))

# csv: byte 0 = unit, newline handling, ts columns; then header + rows.
csvs = files("../shared/conformance/*/data.csv", "examples/**/*.csv", "tests/**/*.csv")
for i, p in enumerate(csvs):
    write("csv", bytes([i % 32]) + "\n".join(lines_of([p], 12)).encode() + b"\n")
csv_lits = literals(os.path.join(ROOT, "tests/engine/parse/csv_reader_test.cc")) + literals(
    os.path.join(ROOT, "tests/engine/parse/csv_message_decoder_test.cc"))
for i, s in enumerate(csv_lits):
    write("csv", bytes([i % 32]) + ("ts,device,zone,temp,hum\n" + s).encode("utf-8", "surrogateescape"))

# http_ingest: byte 0 = content type and limits; then a body.
bodies = literals(os.path.join(ROOT, "tests/bridges/http_ingest_source_test.cc"))
for i, p in enumerate(ndjson):
    bodies.append("\n".join(lines_of([p], 6)))
    bodies.append("[" + ",".join(lines_of([p], 4)) + "]")
for i, b in enumerate(bodies):
    if b.strip()[:1] in "{[":
        write("http_ingest", bytes([i % 64]) + b.encode("utf-8", "surrogateescape"))

# topic: pattern '\n' topic.
topics = [s for s in literals(os.path.join(ROOT, "tests/bridges/topic_pattern_test.cc")) if "/" in s or "#" in s or "+" in s]
for a in topics[:40]:
    for b in topics[:40:3]:
        write("topic", a + "\n" + b)

# rules_file: whole YAML files and the loader tests' snippets.
yamls = files("examples/**/*.yaml", "tests/**/*.yaml", "../shared/conformance/*/rules.yaml")
for p in yamls:
    write("rules_file", open(p, "rb").read())
for p in ("tests/rules/rule_loader_test.cc", "tests/engine/config/rules_file_test.cc", "tests/rules/rules_property_test.cc"):
    for s in literals(os.path.join(ROOT, p)):
        if ":" in s and "\n" in s:
            write("rules_file", s)

# expr: byte 0 = mode and values; then the `when` text.
exprs = []
for p in yamls:
    for l in open(p, encoding="utf-8", errors="surrogateescape"):
        m = re.match(r"\s*-?\s*(?:when|clear_when):\s*(.+?)\s*$", l)
        if m:
            exprs.append(m.group(1).strip("\"'"))
for p in ("tests/rules/expr/expr_parser_test.cc", "tests/rules/expr/compiler_test.cc"):
    exprs += [s for s in literals(os.path.join(ROOT, p)) if len(s) < 200]
for i, e in enumerate(exprs):
    write("expr", bytes([i % 8]) + e.encode("utf-8", "surrogateescape"))
