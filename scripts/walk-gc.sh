#!/usr/bin/env bash
# `ptlab bench walk` under G1 (the JVM's default) and under the Parallel collector (what ./ptlab
# runs with since issue 15), interleaved round by round on the same jar, with the launcher's
# other JVM options; prints the load and a Markdown table, each cell best (median) over the rounds.
#
#   scripts/walk-gc.sh [--rounds N]      (default 5; about 10 s per run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=5
while (( $# )); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "walk-gc.sh: unknown option '$1' (usage: scripts/walk-gc.sh [--rounds N])" >&2; exit 2 ;;
  esac
done
"$ROOT/ptlab" --version >/dev/null                       # builds target/ptlab.jar if needed
JAVA="$(cut -d' ' -f1 "$ROOT/target/ptlab.aot.jdk" 2>/dev/null || true)"
[[ -x "$JAVA" ]] || JAVA="$(command -v java)"
OPTS=(--add-exports java.base/jdk.internal.vm=ALL-UNNAMED)
source "$ROOT/scripts/lib/ptlab-jvm.sh"
host_has_thp && OPTS+=(-XX:+UseTransparentHugePages)
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
echo "start $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $ROUNDS rounds, commit $(git -C "$ROOT" rev-parse --short HEAD)"
for ((r = 1; r <= ROUNDS; r++)); do
  for gc in G1 Parallel; do
    out="$("$JAVA" "${OPTS[@]}" -XX:+Use${gc}GC -jar "$ROOT/target/ptlab.jar" bench walk --format json)"
    for m in tlb_hit walk4 walk5 random_1g; do
      echo "$m $gc $(grep -o "\"${m}_ns\" *: *[0-9.]*" <<<"$out" | sed 's/.*: *//')" >>"$LOG"
    done
  done
done
echo "end $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| ns per translation (ptlab bench walk) | G1 | Parallel |"
echo "|---|--:|--:|"
for m in tlb_hit walk4 walk5 random_1g; do
  row="| $m |"
  for gc in G1 Parallel; do
    row+=" $(awk -v m="$m" -v g="$gc" '$1 == m && $2 == g { x[n++] = $3 }
      END { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
            printf "%s (%s)", x[0], x[int(n / 2)] }' "$LOG") |"
  done
  echo "$row"
done
