#!/usr/bin/env bash
# Regenerates what docs/ takes from the commands themselves: docs/cli-reference.md (every
# command's --help) and docs/ptlab-completion.bash (picocli AutoComplete). Run after changing an
# option or a description; `source docs/ptlab-completion.bash` gives tab completion.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/ptlab" gen-docs >"$ROOT/docs/cli-reference.md"
"$ROOT/ptlab" gen-docs --completion >"$ROOT/docs/ptlab-completion.bash"
echo "wrote docs/cli-reference.md, docs/ptlab-completion.bash"
