#!/bin/sh
# Regenerates README's "What ./ptlab demo shows today" block from a real run of ./ptlab demo
# (the first fenced block after that heading is replaced by the demo's standard output).
set -e
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
./ptlab demo --out "${TMPDIR:-/tmp}/ptlab-readme-demo" > "$out"
python3 - "$out" <<'PY'
import sys
demo = open(sys.argv[1]).read().rstrip('\n').replace('/tmp/ptlab-readme-demo', 'ptlab-demo')
s = open('README.md').read()
h = s.index('## What `./ptlab demo` shows today')
a = s.index('```\n', h) + 4
b = s.index('```\n', a)
open('README.md', 'w').write(s[:a] + demo + '\n' + s[b:])
PY
