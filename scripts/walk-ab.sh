#!/usr/bin/env bash
# `ptlab bench walk` of several commits side by side, with the C walker, interleaved round by
# round: how issue 15 measured each walker change against the commit before it. Each commit is
# checked out in a temporary worktree and built (mvn package, offline when the local repository
# has everything); every round runs bench/baseline/walk.c, then each commit's jar with the JVM
# options ./ptlab uses (Parallel collector, the heap on transparent huge pages where the host
# has them, the young generation fixed), without the start-up cache.
# Prints the load and a Markdown table, each cell best (median) over the rounds.
#
#   scripts/walk-ab.sh [--rounds N] REV...      e.g. scripts/walk-ab.sh 5ca953a 32214a7 HEAD
#     --rounds N   (default 4; about 6 s per commit per round)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=4
REVS=()
while (( $# )); do
  case "$1" in
    --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "walk-ab.sh: --rounds needs a positive number" >&2; exit 2; }
              ROUNDS="$2"; shift 2 ;;
    -*) echo "walk-ab.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
    *) REVS+=("$1"); shift ;;
  esac
done
(( ${#REVS[@]} >= 1 )) || { echo "walk-ab.sh: name at least one commit (see the comment at the top)" >&2; exit 2; }
command -v cc >/dev/null || { echo "walk-ab.sh: needs a C compiler (cc) for bench/baseline/walk.c" >&2; exit 2; }
source "$ROOT/scripts/lib/ptlab-jvm.sh"
ptlab_java walk-ab.sh
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-walk-ab.XXXXXX")"
cleanup() {
  for d in "$WORK"/tree.*; do [[ -d "$d" ]] && git -C "$ROOT" worktree remove --force "$d" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
NAMES=()
for i in "${!REVS[@]}"; do
  rev="$(git -C "$ROOT" rev-parse --short "${REVS[$i]}^{commit}" 2>/dev/null)" \
    || { echo "walk-ab.sh: '${REVS[$i]}' is not a commit of this repository" >&2; exit 2; }
  NAMES+=("$rev")
  git -C "$ROOT" worktree add --detach "$WORK/tree.$i" "$rev" >/dev/null 2>&1
  echo "walk-ab: building $rev" >&2
  (cd "$WORK/tree.$i" && { mvn -q -B -o -DskipTests package >"$WORK/build.$i.log" 2>&1 \
      || mvn -q -B -DskipTests package >"$WORK/build.$i.log" 2>&1; }) \
    || { cat "$WORK/build.$i.log" >&2; echo "walk-ab.sh: $rev does not build" >&2; exit 2; }
done
cc -O2 -o "$WORK/walk" "$ROOT/bench/baseline/walk.c"
OPTS=(--add-exports java.base/jdk.internal.vm=ALL-UNNAMED -XX:+UseParallelGC -Xmn256m -XX:-UseAdaptiveSizePolicy)
host_has_thp && OPTS+=(-XX:+UseTransparentHugePages)
CASES=(tlb_hit walk4 walk5 random_1g)
LOG="$WORK/log"
: >"$LOG"
echo "start $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
  "$WORK/walk" | awk '$2 == "best" { print $1, "C", $3 }' >>"$LOG"
  for i in "${!NAMES[@]}"; do
    out="$("$JAVA" "${OPTS[@]}" -jar "$WORK/tree.$i/target/ptlab.jar" bench walk --format json)"
    for m in "${CASES[@]}"; do
      echo "$m ${NAMES[$i]} $(grep -o "\"${m}_ns\" *: *[0-9.]*" <<<"$out" | sed 's/.*: *//')" >>"$LOG"
    done
  done
done
echo "end $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$LOG" "${CASES[*]}" C "${NAMES[@]}" <<'PY'
import statistics, sys
log, cases, columns = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
vals = {}
for line in open(log):
    case, col, v = line.split()
    vals.setdefault((case, col), []).append(float(v))
print("| ns per translation (best (median) of the rounds) | " + " | ".join(
    "C walk.c" if c == "C" else "ptlab " + c for c in columns) + " |")
print("|---|" + "--:|" * len(columns))
for case in cases:
    cells = []
    for c in columns:
        v = vals.get((case, c))
        cells.append(f"{min(v):.2f} ({statistics.median(v):.2f})" if v else "-")
    print(f"| {case} | " + " | ".join(cells) + " |")
PY
