#!/usr/bin/env bash
# Regenerates the `ptlab trace replay` example of README.md (section "ptlab trace replay") and
# checks it against the README: every count is deterministic; the wall-time line depends on the
# machine and its load, so README shows it as "…" and points to the Performance section, whose
# figures come from quiet-machine runs (best of five).
#   scripts/readme-trace-example.sh          prints the block and diffs it with README.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-readme.XXXXXX")"
trap 'rm -rf "$T"' EXIT
"$ROOT/ptlab" trace generate --lines 20000000 --out "$T/t.lackey"
"$ROOT/ptlab" trace replay "$T/t.lackey" --trace-format lackey --arch x86-64 |
  sed -e "s|$T/t.lackey|/tmp/t.lackey|" \
      -e 's|^wall time .*|wall time         … (machine-dependent: see Performance)|' >"$T/block"
cat "$T/block"
# the README block: the lines after "$ ./ptlab trace replay /tmp/t.lackey" up to the closing fence
awk '/^\$ \.\/ptlab trace replay \/tmp\/t\.lackey/{on=1; next} on && /^```/{exit} on' "$ROOT/README.md" >"$T/readme"
if diff -u "$T/readme" "$T/block"; then
  echo "README.md's trace replay example matches the code"
else
  echo "README.md's trace replay example differs (diff above)" >&2
  exit 1
fi
