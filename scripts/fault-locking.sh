#!/bin/sh
# Regenerates every fault-locking number quoted in README.md (issue 13, study 3).
# Usage: scripts/fault-locking.sh [OUT_DIR] [PART...]   (from the repository root)
#   PART: timed (the scalability tables and plots, 1-128 CPUs), fork (dup_mmap's vma_start_write
#   cost), broken (each broken variant found), correct (the correct variants over 100,000
#   random and PCT schedules, exhaustive for fault-vs-munmap), writers (faults-vs-writers alone,
#   4 CPUs, 100,000 random and PCT schedules: the slowest part); default: all of them.
# The whole takes hours on a loaded 2-core machine; run the parts you need.
# Prints the machine load first: the numbers are model cycles (independent of load), the
# explore rates are not.
set -e
OUT=${1:-target/fault-locking}
[ $# -gt 0 ] && shift
PARTS=${*:-timed fork broken correct writers}
mkdir -p "$OUT"
echo "== load: $(cat /proc/loadavg) on $(nproc) CPUs, $(date -u)"
want() { case " $PARTS " in *" $1 "*) return 0;; esac; return 1; }
if want timed; then
  for arch in x86-64 x86-32-pae; do
    echo "== timed runs, $arch"
    ./ptlab experiment fault-locking --arch "$arch" --mix read-mostly,writer-heavy,fork-heavy,churn \
        --cpus 1,2,4,8,16,32,48,64,110,128 --faults 128 --out "$OUT/$arch"
  done
fi
if want fork; then
  echo "== fork cost of dup_mmap's vma_start_write, x86-64"
  ./ptlab experiment fault-locking --arch x86-64 --fork-cost 10,100,1000,10000
fi
if want broken; then
  echo "== explore: each broken path found (100,000 schedules at most)"
  for sv in fault-vs-munmap:speculative-broken:pct fork-vs-vma-fault:per-vma-fork-unlocked:pct \
            pte-reclaim-vs-fault:pte-reclaim-no-recheck:random; do
    sc=${sv%%:*}; rest=${sv#*:}; v=${rest%%:*}; st=${rest#*:}
    ./ptlab explore "$sc" --variant "$v" --strategy "$st" --schedules 100000 --seed 42 \
        --out "$OUT/schedule-$sc-$v.json" --format json || true
  done
fi
explore_correct() {
  for sv in "$@"; do
    sc=${sv%%:*}; v=${sv#*:}
    for st in random pct; do
      ./ptlab explore "$sc" --variant "$v" --strategy "$st" --schedules 100000 --seed 7 --format json
    done
  done
}
if want correct; then
  echo "== explore: each correct path clean (100,000 schedules)"
  explore_correct fault-vs-munmap:speculative fault-vs-munmap:speculative-retry fault-vs-munmap:per-vma \
      fault-vs-munmap:mmap-lock fork-vs-vma-fault:per-vma fork-vs-vma-fault:mmap-lock pte-reclaim-vs-fault:per-vma
  for v in speculative speculative-retry per-vma mmap-lock; do
    ./ptlab explore fault-vs-munmap --variant "$v" --strategy exhaustive --max-depth 2 --schedules 1000000 --format json
  done
fi
if want writers; then
  echo "== explore: faults-vs-writers, 4 CPUs (100,000 schedules)"
  explore_correct faults-vs-writers:per-vma faults-vs-writers:speculative faults-vs-writers:speculative-retry \
      faults-vs-writers:mmap-lock
fi
