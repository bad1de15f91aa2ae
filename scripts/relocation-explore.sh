#!/usr/bin/env bash
# The relocation study's exploration at full count (issue 12): the safe protocols on 4 CPUs
# (3 writers + the migrator) in every paging mode, 100,000 random and 100,000 PCT schedules
# each (name `naive` too to see its lost dirty bit found with the same seeds). `mvn verify` runs fewer (see
# RelocationScenarioTest); this prints one line per run:
#   variant strategy schedules steps violation, then how often the lost-dirty (1), freed-table (2)
#   and stale-TLB (3) checks ran — a pass with a check that never ran would not be one
# Usage: scripts/relocation-explore.sh [SCHEDULES] [PROTOCOLS...]   (default 100000 safe safe-stall replicate)
# PTLAB may name another launcher, e.g. PTLAB=/path/to/another/clone/ptlab (a stable build while you edit).
set -euo pipefail
cd "$(dirname "$0")/.."
PTLAB=${PTLAB:-./ptlab}
N=${1:-100000}
shift || true
PROTOCOLS=${*:-safe safe-stall replicate}
for p in $PROTOCOLS; do
  for arch in x86-32 x86-32-pae x86-64 x86-64-la57; do
    for s in random pct; do
      $PTLAB explore relocation-dirty --variant "$p-$arch-4cpu" --strategy $s --schedules "$N" --seed 1 \
          --out /dev/null --format json > /tmp/relocation-explore.$$.json || true
      python3 - "$p-$arch-4cpu" $s /tmp/relocation-explore.$$.json <<'PY'
import json, sys
j = json.load(open(sys.argv[3]))
c = j['checks']
print(f"{sys.argv[1]:28s} {sys.argv[2]:6s} {j['schedules']:>7} {j['steps']:>10} {j['violation'] or 'none':5s}"
      f" checks 1:{c['1_lost_dirty']} 2:{c['2_freed_table']} 3:{c['3_stale_tlb']}")
PY
    done
  done
done
rm -f /tmp/relocation-explore.$$.json
