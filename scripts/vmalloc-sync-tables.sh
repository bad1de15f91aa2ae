#!/bin/sh
# Regenerates README's vmalloc-sync tables (study 1; issues 6, 10, 16). Results are model cycles:
# a function of the code, the seed and the cost table, the same on any machine and under any load.
#   scripts/vmalloc-sync-tables.sh [OUT]     (default: print to stdout)
# 1. ./ptlab demo, section 4: 100 processes, 2000 operations, 4 CPUs, NMI rate 50, seed 1
# 2. README "ptlab experiment vmalloc-sync": PAE, 1000 processes, 20000 operations
# 3. The x86-32 shared-top failure count of issue 10 (--procs 200 --vmallocs 3000 --seed 3)
set -e
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
{
  echo "## demo section 4"
  ./ptlab experiment vmalloc-sync --arch x86-32-pae --procs 100 --vmallocs 2000
  ./ptlab experiment vmalloc-sync --arch x86-64 --procs 100 --vmallocs 2000
  echo "## README: ptlab experiment vmalloc-sync --arch x86-32-pae --procs 1000 --vmallocs 20000"
  ./ptlab experiment vmalloc-sync --arch x86-32-pae --procs 1000 --vmallocs 20000
  echo "## x86-32 shared-top: failed vmallocs are failures, not latencies"
  ./ptlab experiment vmalloc-sync --arch x86-32 --procs 200 --vmallocs 3000 --seed 3 \
      --strategies shared-top --format json | grep -E '"(strategy|vmalloc_attempts|vmalloc_failures|vmalloc_latency_p50)"'
} > "$out"
