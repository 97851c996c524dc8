#!/usr/bin/env bash
# The documentation cannot rot: every ```yaml block of README.md and docs/*.md
# goes through `vigil check`, every ```console transcript is run and its
# output compared, every relative link must resolve. The conventions are at
# the top of docs_snippets.py and in docs/index.md.
#   docs_snippets_test.sh PATH/TO/vigil REPO_ROOT [EXAMPLE_PLUGIN_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/docs_snippets.py" "$@"
