#!/usr/bin/env bash
# The relocation study's numbers quoted in README.md (issue 12): the comparison table on GUPS
# (TLB-miss heavy) and scan (TLB-friendly) on x86-64, GUPS in the three other modes, and the
# plot of run time against the remote/local distance ratio. Writes CSV/JSON/PNG under
# docs/relocation/ and prints the tables. Model cycles only: the results do not depend on
# the machine or its load (the wall time printed does).
# Usage: scripts/relocation-numbers.sh        PTLAB may name another launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
PTLAB=${PTLAB:-./ptlab}
OUT=docs/relocation
mkdir -p "$OUT"
for w in gups scan; do
  echo "## x86-64 $w"
  $PTLAB experiment relocation --arch x86-64 --workload $w --explore random --schedules 1000 --out "$OUT/x86-64-$w"
done
for arch in x86-32 x86-32-pae x86-64-la57; do
  echo "## $arch gups"
  $PTLAB experiment relocation --arch $arch --workload gups --explore random --schedules 1000 --out "$OUT/$arch-gups"
done
