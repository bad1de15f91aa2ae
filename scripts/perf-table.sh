#!/usr/bin/env bash
# Regenerates README's performance table (issue 15): the walker, the TLB, trace replay and
# start-up, for this checkout ("after"), an older commit ("before") and the C baselines, all
# measured in the same run, interleaved round by round, best of N (the machine is shared:
# compare best to best). Prints the load (uptime) at start and end and a Markdown table.
#
#   scripts/perf-table.sh [--before REV] [--rounds N] [--big-lines N] [--no-big] [--no-real]
#                         [--work DIR]
#
#   --before REV   the commit to compare against (default 27eb447, main before issue 15)
#   --rounds N     rounds of every measurement (default 5)
#   --big-lines N  lines of the large synthetic trace for the steady-state figure (default
#                  200,000,000: a 2.9 GB file, written to --work and deleted at the end)
#   --no-big       skip the large trace
#   --no-real      skip the real trace (valgrind's lackey tracing gzip; needs valgrind)
#   --work DIR     scratch directory (default: a new one under ${TMPDIR:-/tmp})
#
# Traces are generated here (`ptlab trace generate`, valgrind), never committed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BEFORE=27eb447
ROUNDS=5
BIG_LINES=200000000
BIG=1
REAL=1
WORK=""
while (( $# )); do
  case "$1" in
    --before) BEFORE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --big-lines) BIG_LINES="$2"; shift 2 ;;
    --no-big) BIG=0; shift ;;
    --no-real) REAL=0; shift ;;
    --work) WORK="$2"; shift 2 ;;
    *) echo "perf-table.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[[ -n "$WORK" ]] || WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-perf.XXXXXX")"
mkdir -p "$WORK"
LOG="$WORK/measurements.txt"     # one line per measurement: metric variant value
: >"$LOG"

say() { echo "perf-table: $*" >&2; }
record() { echo "$1 $2 $3" >>"$LOG"; }

say "load at start: $(uptime)"
START_LOAD="$(uptime | sed 's/.*load average: //')"

# ---- builds -----------------------------------------------------------------------------------
AFTER="$ROOT/ptlab"
"$AFTER" --version >/dev/null                       # builds the jar and the start-up cache if needed
BEFORE_DIR="$WORK/before"
if [[ ! -x "$BEFORE_DIR/ptlab" ]]; then
  say "building $BEFORE in $BEFORE_DIR"
  git -C "$ROOT" worktree add --detach "$BEFORE_DIR" "$BEFORE" >/dev/null 2>&1
  (cd "$BEFORE_DIR" && mvn -q -B -DskipTests package >"$WORK/before-build.log" 2>&1)
  trap 'git -C "$ROOT" worktree remove --force "$BEFORE_DIR" 2>/dev/null || true' EXIT
fi
BEFORE_PTLAB="$BEFORE_DIR/ptlab"
cc -O2 -o "$WORK/walk" "$ROOT/bench/baseline/walk.c"
cc -O2 -o "$WORK/lackey_replay" "$ROOT/bench/c/lackey_replay.c"
"$WORK/walk" selftest >/dev/null

# ---- traces -----------------------------------------------------------------------------------
T20="$WORK/t20.lackey"
[[ -f "$T20" ]] || "$AFTER" trace generate --lines 20000000 -o "$T20"
TSMALL="$WORK/t200k.lackey"
[[ -f "$TSMALL" ]] || "$AFTER" trace generate --lines 200000 --seed 2 -o "$TSMALL"
TREAL="$WORK/real.lackey"
if (( REAL )) && [[ ! -f "$TREAL" ]]; then
  if command -v valgrind >/dev/null && command -v gzip >/dev/null; then
    say "tracing gzip under valgrind lackey (the 'real' trace)"
    seq 1 20000 >"$WORK/gzip-input.txt"   # 108 KB: about 36 M trace lines
    valgrind --tool=lackey --trace-mem=yes --log-file="$TREAL" gzip -c "$WORK/gzip-input.txt" >/dev/null
  else
    say "no valgrind or gzip: skipping the real trace"; REAL=0
  fi
fi
TBIG="$WORK/big.lackey"
if (( BIG )) && [[ ! -f "$TBIG" ]]; then
  "$AFTER" trace generate --lines "$BIG_LINES" --seed 3 -o "$TBIG"
fi

# ---- measurements -------------------------------------------------------------------------------
json_field() { grep -o "\"$1\" *: *[0-9.]*" | head -n1 | sed 's/.*: *//'; }

# wall seconds of a whole process (JVM start included)
wall() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

walk_round() {
  local v out
  for v in before after; do
    if [[ $v == before ]]; then out="$("$BEFORE_PTLAB" bench walk --format json)"; else out="$("$AFTER" bench walk --format json)"; fi
    for m in tlb_hit walk4 walk5 random_1g; do record "${m}_ns" "$v" "$(json_field "${m}_ns" <<<"$out")"; done
  done
  out="$("$WORK/walk")"
  for m in tlb_hit walk4 walk5 random_1g; do
    record "${m}_ns" C "$(awk -v m="$m" '$1 == m { print $3 }' <<<"$out")"
  done
}

replay_args=(--trace-format lackey --arch x86-64 --format json)

replay_round() {   # $1 trace, $2 metric name, $3 lines
  local s
  s=$(wall "$BEFORE_PTLAB" trace replay "$1" "${replay_args[@]}"); record "$2_s" before "$s"
  s=$(wall "$AFTER" trace replay "$1" "${replay_args[@]}"); record "$2_s" after "$s"
  s=$(wall "$AFTER" trace replay "$1" "${replay_args[@]}" --threads 2); record "$2_s" after-threads2 "$s"
  s=$(wall "$WORK/lackey_replay" "$1"); record "$2_s" C "$s"
}

startup_round() {
  local s
  s=$(wall "$BEFORE_PTLAB" --version); record version_s before "$s"
  s=$(PTLAB_AOT=0 wall "$AFTER" --version); record version_s after-no-cache "$s"
  s=$(wall "$AFTER" --version); record version_s after "$s"
  s=$(wall "$BEFORE_PTLAB" trace replay "$TSMALL" "${replay_args[@]}"); record replay200k_s before "$s"
  s=$(PTLAB_AOT=0 wall "$AFTER" trace replay "$TSMALL" "${replay_args[@]}"); record replay200k_s after-no-cache "$s"
  s=$(wall "$AFTER" trace replay "$TSMALL" "${replay_args[@]}"); record replay200k_s after "$s"
}

for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS (load $(uptime | sed 's/.*load average: //'))"
  startup_round
  walk_round
  replay_round "$T20" replay20M
  if (( REAL )); then replay_round "$TREAL" replayreal; fi
done
if (( BIG )); then   # long: two rounds, in-process rate (steady state) and whole process
  for ((r = 1; r <= 2; r++)); do
    for v in before after; do
      P="$AFTER"; [[ $v == before ]] && P="$BEFORE_PTLAB"
      t0=$(date +%s.%N)
      rate=$("$P" trace replay "$TBIG" "${replay_args[@]}" | json_field lines_per_s)
      t1=$(date +%s.%N)
      record replaybig_rate "$v" "$rate"
      record replaybig_s "$v" "$(echo "$t1 - $t0" | bc -l)"
    done
    record replaybig_s C "$(wall "$WORK/lackey_replay" "$TBIG")"
  done
fi
END_LOAD="$(uptime | sed 's/.*load average: //')"
say "load at end: $(uptime)"

# ---- table ----------------------------------------------------------------------------------
best() {   # best (min, or max for rates) and median of metric $1 variant $2
  awk -v m="$1" -v v="$2" -v hi="${3:-0}" '$1 == m && $2 == v { x[n++] = $3 }
    END { if (!n) { print "–"; exit }
          for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if ((x[j] < x[i]) != hi) { t = x[i]; x[i] = x[j]; x[j] = t }
          printf "%s (%s)", x[0], x[int(n / 2)] }' "$LOG"
}
lines_of() { awk 'END { print NR }' "$1"; }
rate() {   # lines / best seconds, in M lines/s, for metric $1 variant $2, trace $3
  awk -v m="$1" -v v="$2" -v lines="$3" '$1 == m && $2 == v && (!n++ || $3 < b) { b = $3 }
    END { if (!n) print "–"; else printf "%.1f", lines / b / 1e6 }' "$LOG"
}

echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs, load average at start $START_LOAD, at end $END_LOAD;"
echo "$ROUNDS rounds interleaved; each cell: best (median). before = $BEFORE, after = $(git -C "$ROOT" rev-parse --short HEAD)."
echo
echo "| ns per translation (ptlab bench walk / walk.c) | before | after | C walk.c | after / C |"
echo "|---|--:|--:|--:|--:|"
for m in tlb_hit walk4 walk5 random_1g; do
  a=$(best "${m}_ns" after); c=$(best "${m}_ns" C)
  ratio=$(awk -v a="${a%% *}" -v c="${c%% *}" 'BEGIN { if (c > 0) printf "%.2f", a / c }')
  echo "| $m | $(best "${m}_ns" before) | $a | $c | $ratio |"
done
echo
L20=$(lines_of "$T20")
echo "| trace replay, whole process (s; M lines/s of the best) | before | after | after --threads 2 | C lackey_replay |"
echo "|---|--:|--:|--:|--:|"
echo "| 20M synthetic lines | $(best replay20M_s before); $(rate replay20M_s before "$L20") | $(best replay20M_s after); $(rate replay20M_s after "$L20") | $(best replay20M_s after-threads2); $(rate replay20M_s after-threads2 "$L20") | $(best replay20M_s C); $(rate replay20M_s C "$L20") |"
if (( REAL )); then
  LR=$(lines_of "$TREAL")
  echo "| real trace, gzip under valgrind ($LR lines) | $(best replayreal_s before); $(rate replayreal_s before "$LR") | $(best replayreal_s after); $(rate replayreal_s after "$LR") | $(best replayreal_s after-threads2); $(rate replayreal_s after-threads2 "$LR") | $(best replayreal_s C); $(rate replayreal_s C "$LR") |"
fi
if (( BIG )); then
  echo "| $BIG_LINES synthetic lines, whole process | $(best replaybig_s before) | $(best replaybig_s after) | | $(best replaybig_s C) |"
  echo "| same, in-process rate (lines/s, steady state) | $(best replaybig_rate before 1) | $(best replaybig_rate after 1) | | |"
fi
echo
echo "| start-up (s, whole process) | before | after, PTLAB_AOT=0 | after (AOT cache) |"
echo "|---|--:|--:|--:|"
echo "| ptlab --version | $(best version_s before) | $(best version_s after-no-cache) | $(best version_s after) |"
echo "| trace replay, 200k lines | $(best replay200k_s before) | $(best replay200k_s after-no-cache) | $(best replay200k_s after) |"
echo
echo "raw measurements: $LOG"
if (( BIG )); then rm -f "$TBIG"; fi
