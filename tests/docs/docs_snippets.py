#!/usr/bin/env python3
"""The documentation cannot rot: every example in README.md and docs/*.md runs.

    docs_snippets.py PATH/TO/vigil REPO_ROOT [EXAMPLE_PLUGIN_DIR]

The example plugins of EXAMPLE_PLUGIN_DIR (*.so) are copied into every
page's scratch directory, so plugin snippets name them as ./lib<name>.so.

Conventions for fenced code blocks (also in docs/index.md):

* ```yaml  -- a vigil rules file: checked with `vigil check` (exit 0).
    - A block without a top-level `rules:` key (an `engine:`, `sources:` or
      `sinks:` section shown alone) is checked with a one-rule `rules:` list
      appended.
    - A block whose first line is `# under rules:` (or `# under sources:`,
      `# under sinks:`) is a list item of that section: it is indented under
      that key (plus the one-rule list when it is not `rules:`) and checked.
    - Info-string words after `yaml`:
        `invalid`     the block must be refused by `vigil check` (exit 2); a
                      console block shows and verifies the message.
        `file=NAME`   the block is also written, as it is, to NAME in the
                      scratch directory of its Markdown file, for the console
                      blocks that follow it.
        `prometheus`  not a vigil file: Prometheus alerting rules, checked
                      with `promtool check rules` (skipped without promtool).
  There is no way to skip a yaml block.
* ```ndjson file=NAME / ```csv file=NAME -- input data written to NAME.
* ```json -- an example (an alert, an API answer): must be one JSON
  document or JSON lines.
* ```console -- a transcript that is run: each line `$ COMMAND` is run with
  bash in the scratch directory (`vigil` is the binary under test, first on
  PATH); the lines after it, up to the next `$ ` line, are its expected
  output: stdout, then stderr. vigil replay's closing summary on stderr
  (`vigil replay: N messages ... msg/s, N shards)`, timings vary) is not
  compared, nor is the wall-clock time that starts a log line. The command must exit 0 (show a failing one as
  `vigil check bad.yaml; echo "exit status $?"`). Alerts of different keys may
  come in another order with several shards: when the lines differ only in
  order, they match.
  ```sh blocks are instructions for the reader (vigil run, curl, ...), not run.
* Links: every relative link `[text](path)` / `[text](path#anchor)` /
  `[text](#anchor)` must point at an existing file, and an anchor at a
  heading of the target Markdown file (GitHub's slugs).

Every failure is reported as FILE:LINE: what.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
MINIMAL_RULES = "rules:\n  - name: docs-snippet\n    when: x > 0\n"
LOGTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?=(debug|info|warn|error) )")
SUMMARY = re.compile(r"^vigil replay: \d+ messages \(\d+ rejected\), \d+ alerts in .* msg/s, \d+ shards\)$")


def blocks(path):
    """Yields (line_of_fence, info_words, text) of each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        yield start, info.split(), "\n".join(body) + "\n"


def attrs(words):
    out = {}
    for w in words[1:]:
        k, _, v = w.partition("=")
        out[k] = v if v else True
    return out


def wrap(text):
    """A rules-file fragment -> a whole rules file (see the conventions)."""
    first = text.split("\n", 1)[0].strip()
    m = re.match(r"^# under (rules|sources|sinks):$", first)
    if m:
        section = m.group(1)
        body = "".join("  " + l + "\n" if l.strip() else "\n" for l in text.split("\n")[1:])
        out = section + ":\n" + body
        return out if section == "rules" else out + MINIMAL_RULES
    if not re.search(r"^rules:", text, re.M):
        return text + MINIMAL_RULES
    return text


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[`*_]", lambda m: "_" if m.group(0) == "_" else "", s)
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    seen = {}
    out = set()
    in_fence = False
    for line in open(path, encoding="utf-8"):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


class Checker:
    def __init__(self, vigil, root):
        self.vigil = os.path.abspath(vigil)
        self.root = root
        self.errors = []
        self.counts = {"yaml": 0, "invalid": 0, "prometheus": 0, "json": 0, "console": 0, "links": 0}
        self.bindir = tempfile.mkdtemp(prefix="docs-bin-")
        os.symlink(self.vigil, os.path.join(self.bindir, "vigil"))
        self.promtool = shutil.which("promtool")

    def fail(self, where, what):
        self.errors.append(f"{where}: {what}")

    def check_yaml(self, where, text, scratch, a):
        probe = os.path.join(scratch, ".snippet.yaml")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(wrap(text))
        # The secrets a snippet names exist (vigil check reads some, e.g. an
        # mqtt source's password_env and tls files): each *_env variable is
        # set, each relative secret or certificate file is created.
        env = dict(os.environ)
        for var in re.findall(r"\b\w*_env:\s*([A-Za-z_]\w*)", text):
            env.setdefault(var, "docs-secret")
        for name in re.findall(r"\b(?:ca|cert|key|password_file|token_file):\s*([\w./-]+)", text):
            target = os.path.join(scratch, name)
            if not name.startswith("/") and not os.path.exists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as f:
                    f.write("docs-secret\n")
        r = subprocess.run([self.vigil, "check", probe], capture_output=True, text=True, cwd=scratch, env=env)
        if a.get("invalid"):
            self.counts["invalid"] += 1
            if r.returncode != 2:
                self.fail(where, f"marked invalid but `vigil check` exited {r.returncode}")
        else:
            self.counts["yaml"] += 1
            if r.returncode != 0:
                # probe:L:C -> page:line:C (wrapping keeps the block's line numbers)
                page, first = where.rsplit(":", 1)
                msg = re.sub(re.escape(probe) + r":(\d+):",
                             lambda m: f"{page}:{int(first) + int(m.group(1))}:", r.stderr.strip())
                self.fail(where, f"`vigil check` exited {r.returncode}:\n    " + msg.replace("\n", "\n    "))

    def check_prometheus(self, where, text, scratch):
        self.counts["prometheus"] += 1
        if not self.promtool:
            print(f"note: {where}: promtool not found, Prometheus rules not checked")
            return
        probe = os.path.join(scratch, ".prometheus.yml")
        with open(probe, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([self.promtool, "check", "rules", probe], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(where, "promtool check rules failed:\n    " + (r.stdout + r.stderr).strip().replace("\n", "\n    "))

    def check_json(self, where, text):
        self.counts["json"] += 1
        try:
            json.loads(text)
        except ValueError:
            for k, line in enumerate(text.split("\n")):
                try:
                    if line.strip():
                        json.loads(line)
                except ValueError as e:
                    page, first = where.rsplit(":", 1)
                    self.fail(f"{page}:{int(first) + k + 1}", f"json block: neither one JSON document nor JSON lines ({e})")
                    return

    def check_console(self, path, start, text, scratch):
        lines = text.rstrip("\n").split("\n")
        cmds = []  # (line, command, expected lines)
        for k, line in enumerate(lines):
            if line.startswith("$ "):
                cmds.append((start + k + 1, line[2:], []))
            elif cmds:
                cmds[-1][2].append(line)
            else:
                self.fail(f"{path}:{start + k + 1}", "console block: output before the first `$ ` command")
        env = dict(os.environ, PATH=self.bindir + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1")
        for line, cmd, want in cmds:
            self.counts["console"] += 1
            r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=scratch, env=env,
                               stdin=subprocess.DEVNULL, timeout=120)
            out = r.stdout.split("\n") + [l for l in r.stderr.split("\n") if not SUMMARY.match(l)]
            got = [LOGTIME.sub("<time> ", l.rstrip()) for l in out if l.strip()]
            exp = [LOGTIME.sub("<time> ", l.rstrip()) for l in want if l.strip()]
            where = f"{path}:{line}"
            if r.returncode != 0:
                self.fail(where, f"`{cmd}` exited {r.returncode}:\n    " + "\n    ".join(got[-10:]))
                continue
            if got != exp and sorted(got) != sorted(exp):
                import difflib
                diff = "\n    ".join(difflib.unified_diff(exp, got, "documented", "actual", lineterm=""))
                self.fail(where, f"`{cmd}` printed something else:\n    {diff}")

    def check_links(self, path):
        text = open(path, encoding="utf-8").read()
        in_fence = False
        for n, line in enumerate(text.split("\n"), 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            line = re.sub(r"`[^`]*`", "", line)
            for m in re.finditer(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line):
                target = m.group(1)
                if re.match(r"^[a-z]+:", target):
                    continue
                self.counts["links"] += 1
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                where = f"{os.path.relpath(path, self.root)}:{n}"
                if not os.path.exists(dest):
                    self.fail(where, f"link to {target}: {os.path.relpath(dest, self.root)} does not exist")
                    continue
                if anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    self.fail(where, f"link to {target}: no heading with anchor #{anchor} in "
                                     f"{os.path.relpath(dest, self.root)}")

    def check_file(self, path):
        rel = os.path.relpath(path, self.root)
        scratch = tempfile.mkdtemp(prefix="docs-")
        # The example plugins (librule_kurtosis.so, libdecoder_hexframe.so)
        # sit in every scratch directory, as docs/plugins.md's snippets expect.
        for so in glob.glob(os.path.join(self.plugin_dir, "*.so")) if self.plugin_dir else []:
            shutil.copy(so, scratch)
        try:
            for start, words, text in blocks(path):
                if not words:
                    continue
                lang, a = words[0], attrs(words)
                where = f"{rel}:{start}"
                if a.get("file") and isinstance(a["file"], str):
                    with open(os.path.join(scratch, a["file"]), "w", encoding="utf-8") as f:
                        f.write(text)
                if lang == "yaml":
                    if a.get("prometheus"):
                        self.check_prometheus(where, text, scratch)
                    else:
                        self.check_yaml(where, text, scratch, a)
                elif lang == "json":
                    self.check_json(where, text)
                elif lang == "console":
                    self.check_console(rel, start, text, scratch)
            self.check_links(path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 2
    vigil, root = sys.argv[1], os.path.abspath(sys.argv[2])
    c = Checker(vigil, root)
    c.plugin_dir = sys.argv[3] if len(sys.argv) == 4 else None
    files = [os.path.join(root, "README.md")]
    files += sorted(os.path.join(root, "docs", f) for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
    for f in files:
        c.check_file(f)
    shutil.rmtree(c.bindir, ignore_errors=True)
    print(f"{len(files)} Markdown files: {c.counts['yaml']} rules snippets checked, {c.counts['invalid']} refused as "
          f"documented, {c.counts['prometheus']} Prometheus rule files, {c.counts['json']} JSON examples, {c.counts['console']} console commands run, "
          f"{c.counts['links']} relative links")
    for e in c.errors:
        print("FAIL " + e)
    if c.errors:
        print(f"{len(c.errors)} problem(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
