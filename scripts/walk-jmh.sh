#!/usr/bin/env bash
# The JMH walk benchmarks next to the C walker, for issue 15's walk goals (TLB hit, 4- and
# 5-level walk within 2x of C, random translation over 1 GiB within 1.5x): builds the JMH jar
# (mvn -Pbench), compiles bench/baseline/walk.c, and runs, round by round, the C walker and
# then JMH's WalkBenchmark (tlbHitBatch, walk4SamePageBatch, walk5SamePageBatch,
# random1GiBBatch; one fork each, with WalkBenchmark's @Fork options: the Parallel collector, as
# ./ptlab, and transparent huge pages where the host has them, as ./ptlab).
# Prints the load and a Markdown table: JMH's score (its 99.9% error) per round and the best,
# the C walker's best round of the same rounds, and the ratio of the bests.
#
#   scripts/walk-jmh.sh [--rounds N] [--quick]
#     --rounds N  JMH runs and C runs, interleaved (default 2)
#     --quick     shorter JMH iterations (-wi 2 -w 500ms -i 3 -r 500ms instead of
#                 -wi 3 -w 1s -i 5 -r 1s): a smoke run, not for the README
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=2
JMH_ITER=(-wi 3 -w 1s -i 5 -r 1s)
while (( $# )); do
  case "$1" in
    --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "walk-jmh.sh: --rounds needs a positive number" >&2; exit 2; }
              ROUNDS="$2"; shift 2 ;;
    --quick) JMH_ITER=(-wi 2 -w 500ms -i 3 -r 500ms); shift ;;
    *) echo "walk-jmh.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
command -v cc >/dev/null || { echo "walk-jmh.sh: needs a C compiler (cc) for bench/baseline/walk.c" >&2; exit 2; }
source "$ROOT/scripts/lib/ptlab-jvm.sh"
ptlab_java walk-jmh.sh
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-walk-jmh.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && mvn -q -B -Pbench package -DskipTests >"$WORK/build.log" 2>&1) \
  || { cat "$WORK/build.log" >&2; echo "walk-jmh.sh: mvn -Pbench package failed" >&2; exit 2; }
cc -O2 -o "$WORK/walk" "$ROOT/bench/baseline/walk.c"
# The batched cases (WalkBenchmark.BATCH translations per invocation, as walk.c and `ptlab bench
# walk` time a loop): JMH's own cost per invocation is about a TLB hit on this VM.
BENCHES=(tlbHitBatch walk4SamePageBatch walk5SamePageBatch random1GiBBatch)
# The heap on transparent huge pages where the host allows it, as ./ptlab runs
FORK_OPTS=()
host_has_thp && FORK_OPTS=(-jvmArgsPrepend -XX:+UseTransparentHugePages)   # Prepend: a -jvmArgsAppend would replace @Fork's
C_NAMES=(tlb_hit walk4 walk5 random_1g)
echo "start $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $ROUNDS rounds, commit $(git -C "$ROOT" rev-parse --short HEAD), JMH ${JMH_ITER[*]}"
for ((r = 1; r <= ROUNDS; r++)); do
  "$WORK/walk" >"$WORK/c.$r"
  "$JAVA" -jar "$ROOT/target/ptlab-bench.jar" "WalkBenchmark\.($(IFS='|'; echo "${BENCHES[*]}"))\$" \
    -f 1 "${JMH_ITER[@]}" ${FORK_OPTS[@]+"${FORK_OPTS[@]}"} -rf json -rff "$WORK/jmh.$r.json" >"$WORK/jmh.$r.log" 2>&1 \
    || { tail -20 "$WORK/jmh.$r.log" >&2; echo "walk-jmh.sh: JMH failed" >&2; exit 3; }
done
echo "end $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$WORK" "$ROUNDS" "${BENCHES[*]}" "${C_NAMES[*]}" <<'PY'
import json, sys
work, rounds = sys.argv[1], int(sys.argv[2])
benches, cnames = sys.argv[3].split(), sys.argv[4].split()
jmh = {b: [] for b in benches}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{work}/jmh.{r}.json")):
        name = res["benchmark"].rsplit(".", 1)[1]
        m = res["primaryMetric"]
        jmh[name].append((m["score"], m["scoreError"]))
c = {n: [] for n in cnames}
for r in range(1, rounds + 1):
    for line in open(f"{work}/c.{r}"):
        parts = line.split()
        if len(parts) >= 3 and parts[0] in c and parts[1] == "best":
            c[parts[0]].append(float(parts[2]))
print("| ns per translation | JMH, each round: score (99.9% error) | JMH best | C walk.c best | JMH / C |")
print("|---|---|--:|--:|--:|")
for b, n in zip(benches, cnames):
    if not jmh[b] or not c[n]:
        sys.exit(f"walk-jmh.sh: no result for {b} / {n}")
    rounds_text = "; ".join(f"{s:.2f} ({e:.2f})" for s, e in jmh[b])
    best, cbest = min(s for s, _ in jmh[b]), min(c[n])
    print(f"| {b} | {rounds_text} | {best:.2f} | {cbest:.2f} | {best / cbest:.2f} |")
PY
