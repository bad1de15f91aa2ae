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
#   --table-only   print the table again from DIR/measurements.txt of an earlier run (--work DIR)
#
# Whole-process figures are wall seconds; the CPU seconds (user + system, all threads) of the
# same runs are recorded too, as "<metric>_cpu": on a loaded machine wall time mostly measures
# the others, CPU time much less so.
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
TABLE_ONLY=0
while (( $# )); do
  case "$1" in
    --before) BEFORE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --big-lines) BIG_LINES="$2"; shift 2 ;;
    --no-big) BIG=0; shift ;;
    --no-real) REAL=0; shift ;;
    --work) WORK="$2"; shift 2 ;;
    --table-only) TABLE_ONLY=1; shift ;;
    *) echo "perf-table.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[[ -n "$WORK" ]] || WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-perf.XXXXXX")"
mkdir -p "$WORK"
LOG="$WORK/measurements.txt"     # one line per measurement: metric variant value
INFO="$WORK/run-info.txt"        # when, load at start and end, commits

say() { echo "perf-table: $*" >&2; }
record() { echo "$1 $2 $3" >>"$LOG"; }
load() { uptime | sed 's/.*load average: //'; }

if (( ! TABLE_ONLY )); then
: >"$LOG"
say "load at start: $(uptime)"
{ echo "start $(date -u '+%Y-%m-%d %H:%M UTC')"; echo "start_load $(load)"; echo "before $BEFORE";
  echo "after $(git -C "$ROOT" rev-parse --short HEAD)"; echo "rounds $ROUNDS"; echo "big_lines $BIG_LINES"; } >"$INFO"

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
"$BEFORE_PTLAB" --version >/dev/null                # its launcher builds the jar if an earlier run did not
cc -O2 -o "$WORK/walk" "$ROOT/bench/baseline/walk.c"
git -C "$ROOT" show "$BEFORE:bench/baseline/walk.c" >"$WORK/walk-before.c"   # the C baseline before issue 15
cc -O2 -o "$WORK/walk-before" "$WORK/walk-before.c"
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
    # 53 KB: about 20.5 M trace lines, the size of the issue's real trace (20.5 M); the earlier
    # 108 KB input gave 42 M lines, over which JVM start and warm-up weigh half as much.
    seq 1 10700 >"$WORK/gzip-input.txt"
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

# Runs a whole process (JVM start included) and prints "wall cpu" seconds (cpu = user + system).
TIMES="$WORK/time.out"
wall() {
  /usr/bin/time -f "%e %U %S" -o "$TIMES" "$@" >/dev/null
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$TIMES"
}

# record_wall METRIC VARIANT COMMAND...: METRIC_s and METRIC_cpu
record_wall() {
  local m="$1" v="$2" t
  shift 2
  t=($(wall "$@"))
  record "${m}_s" "$v" "${t[0]}"
  record "${m}_cpu" "$v" "${t[1]}"
}

walk_round() {
  local v out
  for v in before after; do
    if [[ $v == before ]]; then out="$("$BEFORE_PTLAB" bench walk --format json)"; else out="$("$AFTER" bench walk --format json)"; fi
    for m in tlb_hit walk4 walk5 random_1g; do record "${m}_ns" "$v" "$(json_field "${m}_ns" <<<"$out")"; done
  done
  for v in C C-before; do
    if [[ $v == C ]]; then out="$("$WORK/walk")"; else out="$("$WORK/walk-before")"; fi
    for m in tlb_hit walk4 walk5 random_1g; do
      record "${m}_ns" "$v" "$(awk -v m="$m" '$1 == m { print $3 }' <<<"$out")"
    done
  done
}

replay_args=(--trace-format lackey --arch x86-64 --format json)

replay_round() {   # $1 trace, $2 metric name
  record_wall "$2" before "$BEFORE_PTLAB" trace replay "$1" "${replay_args[@]}"
  record_wall "$2" after "$AFTER" trace replay "$1" "${replay_args[@]}"
  record_wall "$2" after-threads1 "$AFTER" trace replay "$1" "${replay_args[@]}" --threads 1
  record_wall "$2" C "$WORK/lackey_replay" "$1"
}

startup_round() {
  record_wall version before "$BEFORE_PTLAB" --version
  PTLAB_AOT=0 record_wall version after-no-cache "$AFTER" --version
  record_wall version after "$AFTER" --version
  record_wall replay200k before "$BEFORE_PTLAB" trace replay "$TSMALL" "${replay_args[@]}"
  PTLAB_AOT=0 record_wall replay200k after-no-cache "$AFTER" trace replay "$TSMALL" "${replay_args[@]}"
  record_wall replay200k after "$AFTER" trace replay "$TSMALL" "${replay_args[@]}"
}

for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS (load $(load))"
  echo "round_load $(load)" >>"$INFO"
  startup_round
  walk_round
  replay_round "$T20" replay20M
  if (( REAL )); then replay_round "$TREAL" replayreal; fi
done
if (( BIG )); then   # long: two rounds, in-process rate (steady state) and whole process
  for ((r = 1; r <= 2; r++)); do
    for v in before after after-threads1; do
      P="$AFTER"; [[ $v == before ]] && P="$BEFORE_PTLAB"
      extra=(); [[ $v == after-threads1 ]] && extra=(--threads 1)
      /usr/bin/time -f "%e %U %S" -o "$TIMES" "$P" trace replay "$TBIG" "${replay_args[@]}" ${extra[@]+"${extra[@]}"} >"$WORK/big.json"
      record replaybig_rate "$v" "$(json_field lines_per_s <"$WORK/big.json" | awk '{ printf "%.1f", $1 / 1e6 }')"
      t=($(awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$TIMES"))
      record replaybig_s "$v" "${t[0]}"
      record replaybig_cpu "$v" "${t[1]}"
    done
    record_wall replaybig C "$WORK/lackey_replay" "$TBIG"
  done
fi
echo "end_load $(load)" >>"$INFO"
say "load at end: $(uptime)"
if (( BIG )); then rm -f "$TBIG"; fi
fi   # TABLE_ONLY

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

info() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$INFO"; }
[[ -z "$(info big_lines)" ]] || BIG_LINES="$(info big_lines)"   # --table-only: the run's own size
echo
echo "Measured $(info start) on $(nproc) CPUs; load average (1, 5, 15 min) at start $(info start_load),"
echo "at the start of each round: $(awk '$1 == "round_load" { printf "%s%s", sep, $2 " " $3 " " $4; sep = "; " }' "$INFO"),"
echo "at end $(info end_load). $(info rounds) rounds interleaved; each cell: best (median)."
echo "before = $(info before), after = $(info after)."
echo
echo "| ns per translation (ptlab bench walk; C walk.c) | ptlab before | ptlab after | C walk.c before | C walk.c after | after / C after |"
echo "|---|--:|--:|--:|--:|--:|"
for m in tlb_hit walk4 walk5 random_1g; do
  a=$(best "${m}_ns" after); c=$(best "${m}_ns" C)
  ratio=$(awk -v a="${a%% *}" -v c="${c%% *}" 'BEGIN { if (c > 0) printf "%.2f", a / c }')
  echo "| $m | $(best "${m}_ns" before) | $a | $(best "${m}_ns" C-before) | $c | $ratio |"
done
echo
L20=$(lines_of "$WORK/t20.lackey")
echo "| trace replay, whole process: wall s, CPU s (user+sys); M lines/s of the best wall | before | after (default threads: $(( $(nproc) >= 2 ? 2 : 1 )) here) | after --threads 1 | C lackey_replay |"
echo "|---|--:|--:|--:|--:|"
replay_row() {   # $1 label, $2 metric, $3 lines
  local row="| $1 |" v
  for v in before after after-threads1 C; do
    row+=" $(best "$2_s" "$v"); cpu $(best "$2_cpu" "$v"); $(rate "$2_s" "$v" "$3") |"
  done
  echo "$row"
}
replay_row "20M synthetic lines" replay20M "$L20"
if [[ -f "$WORK/real.lackey" ]] && grep -q '^replayreal_s' "$LOG"; then
  LR=$(lines_of "$WORK/real.lackey")
  replay_row "real trace: gzip under valgrind lackey, $LR lines" replayreal "$LR"
fi
if grep -q '^replaybig_rate' "$LOG"; then
  big_cell() { echo "$(best replaybig_s "$1"); cpu $(best replaybig_cpu "$1"); $(rate replaybig_s "$1" "$BIG_LINES")"; }
  echo "| $BIG_LINES synthetic lines, whole process | $(big_cell before) | $(big_cell after) | $(big_cell after-threads1) | $(big_cell C) |"
  echo "| same, in-process rate (M lines/s, steady state) | $(best replaybig_rate before 1) | $(best replaybig_rate after 1) | $(best replaybig_rate after-threads1 1) | |"
fi
echo
echo "| start-up, whole process: wall s; CPU s | before | after, PTLAB_AOT=0 | after (AOT cache) |"
echo "|---|--:|--:|--:|"
for m in version replay200k; do
  label="ptlab --version"; [[ $m == replay200k ]] && label="trace replay, 200k lines"
  echo "| $label | $(best ${m}_s before); cpu $(best ${m}_cpu before) | $(best ${m}_s after-no-cache); cpu $(best ${m}_cpu after-no-cache) | $(best ${m}_s after); cpu $(best ${m}_cpu after) |"
done
echo
echo "raw measurements: $LOG"
