#!/usr/bin/env bash
# Mutation testing (issue 17): runs PIT (Maven profile `mutation`) on one class at a time,
# against only the test classes that exercise it, and keeps each class's mutations.csv so the
# README table can be regenerated from them.
#
#   scripts/mutation.sh CLASS...        run PIT on each class, e.g. ptlab.kernel.TlbFlush
#   scripts/mutation.sh --all           run every class of the table below, one at a time
#   scripts/mutation.sh --table         print the Markdown table from the kept CSVs
#   scripts/mutation.sh --readme        rewrite README's table (between the mutation-table
#                                       markers) from the kept CSVs
#   options: --threads N (default 2), --unit-size N (mutationUnitSize, default 15)
#
# Per-class CSVs are kept, committed, in docs/mutation/CLASS.csv, with CLASS.info (the commit
# measured, a "+" when src/ had uncommitted changes, the run's seconds and the 1-minute load
# when it started), so the table survives a deleted worktree and --table/--readme build it
# from the repository alone (a class of ALL_CLASSES without a CSV there is "not measured");
# PIT's own report of the last run is in target/pit-reports/, CSV and HTML. Survivors of a
# class: grep -v ',KILLED,' docs/mutation/CLASS.csv A whole-suite PIT run re-runs ~35 s of tests per mutant;
# narrowing targetTests to the layer's own tests (and the kernel-level explore scenarios, whose
# kills are the ones that matter most: a broken TlbFlush caught as a stale translation) keeps a
# class to minutes on two shared cores. The mapping is tests_for() below.
#
# PIT does not read Maven toolchains: the mutants run on the newest JDK >= 21 found in
# JAVA_HOME or /usr/lib/jvm (as ./ptlab finds it), passed as -Dpit.jvm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEEP="$ROOT/docs/mutation"
THREADS=2
UNIT=15

# The classes of issue 17's table, in the order they are run by --all.
ALL_CLASSES=(
  ptlab.hw.PageWalker ptlab.hw.Tlb ptlab.hw.Mmu ptlab.hw.PagingStructureCaches
  ptlab.hw.Pte64 ptlab.hw.Pte32
  ptlab.kernel.TlbFlush ptlab.kernel.MmuGather ptlab.kernel.FrameAllocator
  ptlab.kernel.Pgtable ptlab.kernel.KernelLayout
  ptlab.kernel.vmalloc.KernelMappingSync ptlab.kernel.vmalloc.SharedTop
  ptlab.kernel.vmalloc.VmallocSyncStrategy ptlab.kernel.vmalloc.Vmalloc
  ptlab.kernel.vmalloc.VmapAreas
  ptlab.engine.Exhaustive ptlab.engine.Explorer ptlab.engine.ParallelExplorer ptlab.engine.Strategies
  ptlab.engine.Machine
)

# Which test classes may kill mutants of class $1 (PIT globs, comma separated). A class is
# proven by the tests of its own layer; kernel and engine classes also by the explore
# scenarios built on them.
tests_for() {
  case "$1" in
    ptlab.hw.*) echo 'ptlab.hw.*Test' ;;
    # vmalloc: also the vmalloc-sync study's tests, which check the syncs' walk and lock counts
    # and the failure counts the experiment reports (about 9 s of tests in all)
    ptlab.kernel.vmalloc.*)
      echo 'ptlab.kernel.vmalloc.*Test,ptlab.kernel.*Test,ptlab.study.vmallocsync.*Test' ;;
    # Pgtable: also the fault-locking experiment, whose faults take the split pte/pmd ptlocks
    # on many CPUs (its explore tests, 30 s a run, are too slow to rerun per mutant)
    ptlab.kernel.Pgtable)
      echo 'ptlab.kernel.*Test,ptlab.study.faultlocking.FaultLockingExperimentTest,ptlab.tools.scenarios.KernelScenarioTest,ptlab.tools.scenarios.TlbGenVsCpumaskTest,ptlab.tools.scenarios.ScenarioExploreTest' ;;
    # the kernel-level explore scenarios (stale translations, lost flushes); not the engine's
    # own scenario tests (IndependenceRuleTest alone runs 12 s per mutant under PIT)
    ptlab.kernel.*)
      echo 'ptlab.kernel.*Test,ptlab.tools.scenarios.KernelScenarioTest,ptlab.tools.scenarios.TlbGenVsCpumaskTest,ptlab.tools.scenarios.ScenarioExploreTest' ;;
    # every test runs on a Machine: the tests of the machine itself keep a mutant to seconds
    ptlab.engine.Machine)
      echo 'ptlab.engine.MachineTest,ptlab.engine.MachineRulesTest,ptlab.engine.TimedOperationsTest,ptlab.engine.SharedVariableTest,ptlab.engine.InvariantsTest,ptlab.engine.ExplorerTest' ;;
    # the search: the engine's tests and the kernel-level explore scenarios (as the kernel's)
    ptlab.engine.*)
      echo 'ptlab.engine.*Test,ptlab.tools.scenarios.KernelScenarioTest,ptlab.tools.scenarios.TlbGenVsCpumaskTest,ptlab.tools.scenarios.ScenarioExploreTest' ;;
    *) echo "mutation.sh: no test mapping for '$1' (add one to tests_for)" >&2; return 2 ;;
  esac
}

find_java() {
  local c v best="" best_v=0
  local candidates=()
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME/bin/java")
  for c in /usr/lib/jvm/*/bin/java; do candidates+=("$c"); done
  for c in "${candidates[@]}"; do
    [[ -x "$c" ]] || continue
    v="$("$c" -XshowSettings:properties -version 2>&1 \
         | sed -n 's/^ *java\.specification\.version = //p' | head -n1)"
    v="${v%%.*}"
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if (( v >= 21 && v > best_v )); then best="$c"; best_v="$v"; fi
  done
  echo "$best"
}

# detected = killed + timed out + memory error + run error (PIT's "detected"); the rest
# (survived, no coverage) are not.
# One table row from the kept CSV and its .info (commit, minutes, load when it started).
row() {
  local cls="$1" csv="$KEEP/$1.csv" info="$KEEP/$1.info" commit="" secs="" load=""
  if [[ ! -f "$csv" ]]; then
    # A run from before the CSVs were kept here: its .info records the counts ("detected N",
    # "mutants M") as README's table showed them; the next run of the class replaces it.
    if [[ -f "$info" ]] && grep -q '^mutants ' "$info"; then
      awk -v cls="${cls#ptlab.}" '{ v[$1] = $2 }
        END { printf "| `%s` | %d/%d | %.0f%% | %s (CSV not kept) | %s s, load %s |\n", cls, v["detected"], v["mutants"],
              100 * v["detected"] / v["mutants"], v["commit"], v["seconds"], v["load"] }' "$info"
    else
      echo "| \`${cls#ptlab.}\` | not measured | | | |"
    fi
    return
  fi
  if [[ -f "$info" ]]; then
    commit="$(sed -n 's/^commit //p' "$info")"
    secs="$(sed -n 's/^seconds //p' "$info")"
    load="$(sed -n 's/^load //p' "$info")"
  fi
  awk -F, -v cls="${cls#ptlab.}" -v commit="$commit" -v secs="$secs" -v load="$load" '
    { n++; if ($6=="KILLED"||$6=="TIMED_OUT"||$6=="MEMORY_ERROR"||$6=="RUN_ERROR") d++ }
    END { printf "| `%s` | %d/%d | %.0f%% | %s | %s s, load %s |\n", cls, d, n, (n ? 100*d/n : 0), commit, secs, load }' "$csv"
}

table() {
  echo "| class | detected / mutants | % | commit | PIT run time, load at start |"
  echo "|---|--:|--:|---|---|"
  local c
  for c in "${ALL_CLASSES[@]}"; do row "$c"; done
}

readme() {
  local tmp
  tmp="$(mktemp)"
  table >"$tmp"
  awk -v tbl="$tmp" '
    /<!-- mutation-table:begin -->/ { print; while ((getline l < tbl) > 0) print l; skip=1; next }
    /<!-- mutation-table:end -->/ { skip=0 }
    !skip { print }' "$ROOT/README.md" >"$ROOT/README.md.new"
  mv "$ROOT/README.md.new" "$ROOT/README.md"
  rm -f "$tmp"
}

run_one() {
  local cls="$1" tests java
  tests="$(tests_for "$cls")"
  java="$(find_java)"
  [[ -n "$java" ]] || { echo "mutation.sh: needs a JDK >= 21 (JAVA_HOME or /usr/lib/jvm)" >&2; exit 2; }
  echo "mutation.sh: $cls against $tests (load: $(uptime | sed 's/.*load average: //'))" >&2
  local start=$SECONDS load
  load="$(uptime | sed 's/.*load average: //; s/,.*//')"
  # the class and its nested classes (Foo$Bar), never a sibling whose name starts alike
  (cd "$ROOT" && nice -n 10 mvn -B -q -Pmutation test-compile \
      org.pitest:pitest-maven:mutationCoverage \
      -DtargetClasses="$cls,$cls\$*" -DtargetTests="$tests" \
      -Dpit.jvm="$java" -Dpit.threads="$THREADS" -Dpit.mutationUnitSize="$UNIT" \
      >"$ROOT/target/mutation-$cls.log" 2>&1) || {
    echo "mutation.sh: PIT failed on $cls; see target/mutation-$cls.log" >&2; return 3; }
  mkdir -p "$KEEP"
  cp "$ROOT/target/pit-reports/mutations.csv" "$KEEP/$cls.csv"
  { echo "commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo +)"
    echo "seconds $((SECONDS - start))"; echo "load $load"; } >"$KEEP/$cls.info"
  echo "mutation.sh: $cls done in $((SECONDS - start)) s" >&2
  row "$cls"
}

CLASSES=()
MODE=run
while (( $# )); do
  case "$1" in
    --all) CLASSES+=("${ALL_CLASSES[@]}"); shift ;;
    --table) MODE=table; shift ;;
    --readme) MODE=readme; shift ;;
    --threads) THREADS="$2"; shift 2 ;;
    --unit-size) UNIT="$2"; shift 2 ;;
    -*) echo "mutation.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
    *) CLASSES+=("$1"); shift ;;
  esac
done
mkdir -p "$ROOT/target"
case "$MODE" in
  table) table ;;
  readme) readme ;;
  run)
    (( ${#CLASSES[@]} )) || { echo "mutation.sh: name a class, or --all, --table, --readme" >&2; exit 2; }
    for c in "${CLASSES[@]}"; do run_one "$c"; done ;;
esac
