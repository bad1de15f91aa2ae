#!/usr/bin/env bash
# Regenerates README's explore-rate rows (issue 10, "fast resets"): schedules/s of a kernel-level
# scenario (tlb-stale-after-unmap, variant munmap-shootdown: a kernel per schedule, the kernel's
# own munmap against a reading CPU) at 2,000 / 30,000 / 100,000 schedules, and of bench-2x200
# (2 CPUs x 200 shared-memory operations, no kernel) at 100,000, for this checkout ("after") and
# an older commit ("before"), interleaved round by round. Each cell: best (median) of the rounds
# of `explore ... --format json`'s schedules_per_s (JIT warm-up included, JVM start excluded),
# and the whole process's CPU seconds (user + system): on a shared machine wall time mostly
# measures the others. Prints the load (uptime) at start, per round and at the end.
#
# "after, --jobs 2" is this checkout with `explore --jobs 2` (two worker threads, same results).
#
#   scripts/explore-rate.sh [--before REV] [--rounds N] [--work DIR] [--quick]
#
#   --before REV   the commit to compare against (default 5d589a2, main before the fast resets)
#   --rounds N     rounds (default 3)
#   --work DIR     scratch directory (default: a new one under ${TMPDIR:-/tmp})
#   --quick        only the 2,000 and 30,000 rows (no 100,000 runs)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BEFORE=5d589a2
ROUNDS=3
WORK=""
QUICK=0
while (( $# )); do
  case "$1" in
    --before) BEFORE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "explore-rate.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[[ -n "$WORK" ]] || WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-explore-rate.XXXXXX")"
mkdir -p "$WORK"
LOG="$WORK/measurements.txt"     # one line per measurement: metric variant value
: >"$LOG"
say() { echo "explore-rate: $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
record() { echo "$1 $2 $3" >>"$LOG"; }

AFTER="$ROOT/ptlab"
"$AFTER" --version >/dev/null                       # builds the jar if needed
BEFORE_DIR="$WORK/before"
if [[ ! -x "$BEFORE_DIR/ptlab" ]]; then
  say "building $BEFORE in $BEFORE_DIR"
  git -C "$ROOT" worktree add --detach "$BEFORE_DIR" "$BEFORE" >/dev/null 2>&1
  trap 'git -C "$ROOT" worktree remove --force "$BEFORE_DIR" 2>/dev/null || true' EXIT
fi
"$BEFORE_DIR/ptlab" --version >/dev/null

START="$(date -u '+%Y-%m-%d %H:%M UTC')"
START_LOAD="$(load)"
ROUND_LOADS=""
TIMES="$WORK/time.out"

# one VARIANT SCHEDULES SCENARIO [--variant V]: records rate_<scenario>_<n> and cpu_<scenario>_<n>
one() {
  local v="$1" n="$2" sc="$3" p out
  shift 3
  local jobs=()
  p="$AFTER"; [[ $v == before ]] && p="$BEFORE_DIR/ptlab"
  [[ $v == jobs2 ]] && jobs=(--jobs 2)
  out="$(/usr/bin/time -f "%U %S" -o "$TIMES" "$p" explore "$sc" "$@" ${jobs[@]+"${jobs[@]}"} --schedules "$n" --format json --out /dev/null)"
  record "rate_${sc}_$n" "$v" "$(grep -o '"schedules_per_s" *: *[0-9.]*' <<<"$out" | sed 's/.*: *//')"
  record "cpu_${sc}_$n" "$v" "$(awk '{ printf "%.2f", $1 + $2 }' "$TIMES")"
}

SIZES=(2000 30000 100000)
(( QUICK )) && SIZES=(2000 30000)
for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS (load $(load))"
  ROUND_LOADS+="${ROUND_LOADS:+; }$(load)"
  for n in "${SIZES[@]}"; do
    for v in before after jobs2; do
      one "$v" "$n" tlb-stale-after-unmap --variant munmap-shootdown
    done
  done
  if (( ! QUICK )); then
    for v in before after jobs2; do one "$v" 100000 bench-2x200; done
  fi
done
END_LOAD="$(load)"

best() {   # best and median of metric $1 variant $2; $3 = 1: higher is better
  awk -v m="$1" -v v="$2" -v hi="$3" '$1 == m && $2 == v { x[n++] = $3 }
    END { if (!n) { print "–"; exit }
          for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if ((x[j] < x[i]) != hi) { t = x[i]; x[i] = x[j]; x[j] = t }
          printf "%s (%s)", x[0], x[int(n / 2)] }' "$LOG"
}

echo
echo "Measured $START on $(nproc) CPUs, $ROUNDS rounds interleaved; load average (1, 5, 15 min) at start"
echo "$START_LOAD, at each round's start $ROUND_LOADS, at end $END_LOAD."
echo "before = $BEFORE, after = $(git -C "$ROOT" rev-parse --short HEAD). Each cell: best (median)."
echo
cell() {   # metric-suffix variant
  echo "$(best "rate_$1" "$2" 1); cpu $(best "cpu_$1" "$2" 0)"
}
echo "| explore, schedules/s (process CPU s) | before | after | after, --jobs 2 |"
echo "|---|--:|--:|--:|"
for n in "${SIZES[@]}"; do
  m="tlb-stale-after-unmap_$n"
  echo "| tlb-stale-after-unmap munmap-shootdown, $n schedules | $(cell "$m" before) | $(cell "$m" after) | $(cell "$m" jobs2) |"
done
if (( ! QUICK )); then
  m=bench-2x200_100000
  echo "| bench-2x200, 100000 schedules | $(cell "$m" before) | $(cell "$m" after) | $(cell "$m" jobs2) |"
fi
