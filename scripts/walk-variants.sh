#!/usr/bin/env bash
# The walker variants tried for issue 15 and not kept (or kept: inline-other-table.patch is the
# code before PageWalker.otherTable), measured against this checkout: each patch under
# bench/variants/ is applied to a copy of src/main/java, the classes it changes are compiled
# against target/ptlab.jar and put ahead of it on the class path, and `ptlab bench walk` runs for
# the checkout as it is ("base") and for every variant, interleaved round by round, with the
# launcher's JVM options. Prints the load and a Markdown table, each cell best (median).
#
#   scripts/walk-variants.sh [--rounds N] [--gc Parallel|G1] [NAME...]
#     NAME: a patch's name without .patch (default: every bench/variants/*.patch)
#     --rounds N  (default 3; about 10 s per run on a quiet machine)
#     --gc        the collector (default Parallel, as ./ptlab)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=3
GC=Parallel
NAMES=()
while (( $# )); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --gc) GC="$2"; shift 2 ;;
    -*) echo "walk-variants.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
    *) NAMES+=("$1"); shift ;;
  esac
done
if (( ${#NAMES[@]} == 0 )); then
  for p in "$ROOT"/bench/variants/*.patch; do NAMES+=("$(basename "$p" .patch)"); done
fi
source "$ROOT/scripts/lib/ptlab-jvm.sh"
ptlab_java walk-variants.sh
JAVAC="$(dirname "$JAVA")/javac"
JAR="$ROOT/target/ptlab.jar"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-variants.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
for n in "${NAMES[@]}"; do
  patch_file="$ROOT/bench/variants/$n.patch"
  [[ -f "$patch_file" ]] || { echo "walk-variants.sh: no variant '$n' (bench/variants/$n.patch)" >&2; exit 2; }
  mkdir -p "$WORK/$n/src/src" "$WORK/$n/classes"
  cp -r "$ROOT/src/main" "$WORK/$n/src/src/"
  (cd "$WORK/$n/src" && patch -s -p1 <"$patch_file") || { echo "walk-variants.sh: $n.patch does not apply to this checkout (the patches under bench/variants/ were made against commit 5ca953a, before PageWalker kept its per-level values in one array: run this script in a worktree of that commit, git worktree add DIR 5ca953a)" >&2; exit 2; }
  mapfile -t files < <(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$patch_file")
  # a variant that does not compile would silently measure the checkout's own classes
  if ! "$JAVAC" -nowarn -d "$WORK/$n/classes" -cp "$JAR" "${files[@]/#/$WORK/$n/src/}" >"$WORK/$n/javac.log" 2>&1; then
    cat "$WORK/$n/javac.log" >&2
    echo "walk-variants.sh: $n.patch does not compile against this checkout" >&2
    exit 2
  fi
  grep -v '^Note:' "$WORK/$n/javac.log" >&2 || true
done
OPTS=(--add-exports java.base/jdk.internal.vm=ALL-UNNAMED -XX:+Use${GC}GC)
host_has_thp && OPTS+=(-XX:+UseTransparentHugePages)
LOG="$WORK/log"
: >"$LOG"
echo "start $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $ROUNDS rounds, $GC collector, commit $(git -C "$ROOT" rev-parse --short HEAD)"
for ((r = 1; r <= ROUNDS; r++)); do
  for v in base "${NAMES[@]}"; do
    cp=""; [[ $v == base ]] || cp="$WORK/$v/classes:"
    out="$("$JAVA" "${OPTS[@]}" -cp "$cp$JAR" ptlab.cli.Ptlab bench walk --format json)"
    for m in tlb_hit walk4 walk5 random_1g; do
      echo "$m $v $(grep -o "\"${m}_ns\" *: *[0-9.]*" <<<"$out" | sed 's/.*: *//')" >>"$LOG"
    done
  done
done
echo "end $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| ns per translation (ptlab bench walk) | tlb_hit | walk4 | walk5 | random_1g |"
echo "|---|--:|--:|--:|--:|"
for v in base "${NAMES[@]}"; do
  row="| $v |"
  for m in tlb_hit walk4 walk5 random_1g; do
    row+=" $(awk -v m="$m" -v g="$v" '$1 == m && $2 == g { x[n++] = $3 }
      END { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
            printf "%s (%s)", x[0], x[int(n / 2)] }' "$LOG") |"
  done
  echo "$row"
done
