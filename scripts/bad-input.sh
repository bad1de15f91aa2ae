#!/usr/bin/env bash
# The bad inputs of issue 11 ("the command-line contract under hostile input"), run against the
# built ptlab: each case checks the exit code, that an error is ONE line on stderr naming the
# problem (exit 2 and 3), and that no stack trace is ever printed. `mvn -B verify` runs this
# script after packaging (exec-maven-plugin in pom.xml), so CI runs it.
#
#   scripts/bad-input.sh            uses ./ptlab (the launcher)
#   PTLAB=/path/to/ptlab scripts/bad-input.sh
#
# Exit codes of ptlab (DESIGN.md): 0 ok, 1 violation found, 2 bad input or environment,
# 3 internal error; 130/143 after Ctrl-C/SIGTERM with the partial result printed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PTLAB="${PTLAB:-$ROOT/ptlab}"
T="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-bad-input.XXXXXX")"
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 2
unset PTLAB_DEBUG PTLAB_PROGRESS
# ~70 short JVMs: C1 only and the serial collector halve their CPU time (results do not change)
export PTLAB_JAVA_OPTS="${PTLAB_JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
PASS=0
FAIL=0

# verdict WANT GOT PATTERN DESCRIPTION: checks $T/out and $T/err of the run just made.
verdict() {
  local want=$1 got=$2 pattern=$3 what=$4 problems=""
  [[ "$got" == "$want" ]] || problems+=" exit $got, not $want;"
  if grep -qE '^[[:space:]]+at [a-zA-Z_$.]+\(|Exception in thread|^Caused by:' err; then
    problems+=" a stack trace on stderr;"
  fi
  if [[ "$want" == 2 || "$want" == 3 ]]; then
    local n
    n=$(grep -c '' err)
    [[ "$n" == 1 ]] || problems+=" stderr has $n lines, not 1;"
  fi
  if [[ -n "$pattern" ]] && ! grep -qiE -- "$pattern" out err; then
    problems+=" no /$pattern/ in the output;"
  fi
  if [[ -z "$problems" ]]; then
    PASS=$((PASS + 1))
    printf 'ok    %-3s %s\n' "$got" "$what"
  else
    FAIL=$((FAIL + 1))
    printf 'FAIL  %-3s %s:%s\n' "$got" "$what" "$problems"
    sed 's/^/        stderr: /' err | head -5
  fi
}

# expect WANT PATTERN DESCRIPTION -- ARGS…   (stdin from $STDIN, default /dev/null)
expect() {
  local want=$1 pattern=$2 what=$3
  shift 4
  "$PTLAB" "$@" >out 2>err <"${STDIN:-/dev/null}"
  verdict "$want" "$?" "$pattern" "$what"
}

# -- fixtures ------------------------------------------------------------------------------
mkdir dir
printf '\xff\xfe\x00garbage\x80\n' >garbage.bin
echo x >a-file
"$PTLAB" --version >/dev/null 2>&1   # builds the jar if needed, outside the timed cases
"$PTLAB" explore pte-clear-vs-dirty --seed 1 --out sched.json >/dev/null 2>&1
for k in 1 2; do
  "$PTLAB" explore pte-clear-vs-dirty --variant xchg --schedules 40 --shard $k/2 --format json >s$k.json 2>/dev/null
done
"$PTLAB" explore pte-clear-vs-dirty --variant xchg --schedules 40 --format json >whole.json 2>/dev/null
"$PTLAB" explore pte-clear-vs-dirty --variant xchg --schedules 40 --shard 2/2 --seed 9 --format json >seed9.json 2>/dev/null
sed 's/"interrupted" : false/"interrupted" : true/' s2.json >interrupted.json
sed 's/"invariant 1 (/"invariant 2 (/' sched.json >edited.json

echo "== 1. unwritable --out: refused before the work"
expect 2 "--out" "explore --out /proc/x" -- explore pte-clear-vs-dirty --out /proc/x
expect 2 "directory" "explore --out DIR" -- explore pte-clear-vs-dirty --out dir
expect 2 "--out" "experiment --out /proc/x" -- experiment vmalloc-sync --arch x86-64 --procs 10 --vmallocs 100 --out /proc/x
expect 2 "not a directory" "experiment --out FILE" -- experiment vmalloc-sync --arch x86-64 --procs 10 --vmallocs 100 --out a-file

echo "== 2. directory, non-UTF-8, unreadable input"
expect 2 "is a directory" "replay DIR" -- replay dir
expect 2 "UTF-8" "replay garbage.bin" -- replay garbage.bin
expect 2 "is a directory" "explore --merge DIR" -- explore --merge dir
expect 2 "/proc/self/mem" "trace replay /proc/self/mem" -- trace replay /proc/self/mem --trace-format lackey --arch x86-64

echo "== 3. broken pipe, output to a directory"
"$PTLAB" trace generate --lines 5000000 2>err | head -1 >out
verdict 2 "${PIPESTATUS[0]}" "broken pipe" "trace generate | head -1"
expect 2 "directory" "trace generate -o DIR" -- trace generate --lines 10 -o dir

echo "== 4. out of memory: bounded up front, or one line naming the heap setting"
expect 2 "--tlb-entries" "trace replay --tlb-entries 2^30" -- trace replay a-file --trace-format lackey --arch x86-64 --tlb-entries 1073741824 --tlb-ways 1
PTLAB_JAVA_OPTS=-Xmx64m "$PTLAB" experiment vmalloc-sync --arch x86-64 --procs 100000 --vmallocs 10 --strategies shared-top >out 2>err
verdict 2 $? "PTLAB_JAVA_OPTS" "experiment with -Xmx64m and 100000 processes"

echo "== 5. output to a full disk"
for args in "layout --arch x86-64" "explore pte-clear-vs-dirty --variant xchg --schedules 5 --format json"; do
  # shellcheck disable=SC2086
  "$PTLAB" $args >/dev/full 2>err
  verdict 2 $? "no space" "$args > /dev/full"
done
echo '{"arch":"x86-64","va":"0x1000","path":[{"p":1}]}' >req.jsonl
STDIN=req.jsonl
"$PTLAB" mmu probe <req.jsonl >/dev/full 2>err
verdict 2 $? "no space" "mmu probe > /dev/full"
printf 'I  00400000,4\n' >t.lackey
"$PTLAB" trace replay t.lackey --trace-format lackey --arch x86-64 >/dev/full 2>err
verdict 2 $? "no space" "trace replay > /dev/full"
unset STDIN

echo "== 6, 7. mmu probe: the request as given or an error line; one output line per input line"
cat >bad.jsonl <<'EOF'
{"arch":"x86-32","va":18446744073709555712,"path":[{"p":1,"ps":1}]}
{"arch":"x86-32","va":-1,"path":[{"p":1,"ps":1}]}
{"arch":"x86-32","va":"0x1000","va":"0x2000","path":[{"p":1,"ps":1}]}
{"arch":"x86-32","va":"0x1000","path":[{"p":1,"ps":1}]} trailing garbage

{"arch":"x86-64","va":"0x1000","path":[{"p":1,"rsvd":[99]}]}
EOF
"$PTLAB" mmu probe <bad.jsonl >out 2>err
code=$?
if [[ "$(grep -c '' out)" != 6 || "$(grep -c '"error"' out)" != 6 ]]; then
  echo "mmu probe gave $(grep -c '' out) lines, $(grep -c '"error"' out) errors, for 6 input lines" >>err
fi
[[ -s err ]] && code=99
verdict 0 $code "duplicate key" "mmu probe: va >= 2^64, -1, duplicate key, trailing text, empty line, rsvd 99"

echo "== 8. explore --merge: one sweep exactly"
expect 2 "twice" "the same shard twice" -- explore --merge s1.json s1.json
expect 2 "missing" "a missing shard" -- explore --merge s1.json
expect 2 "shards" "1/1 mixed with 1/2" -- explore --merge s1.json whole.json
expect 2 "seed" "another seed" -- explore --merge s1.json seed9.json
expect 2 "interrupted" "an interrupted shard" -- explore --merge s1.json interrupted.json
expect 0 "seed 1" "the two shards of one sweep" -- explore --merge s1.json s2.json

echo "== 8b. N shards run exactly the schedules of one job"
"$PTLAB" explore --merge s1.json s2.json --format json >out 2>err
merged=$(sed -n 's/^ *"steps" : \([0-9]*\).*/\1/p' out)
single=$(sed -n 's/^ *"steps" : \([0-9]*\).*/\1/p' whole.json)
[[ -n "$merged" && "$merged" == "$single" ]] || echo "merged steps $merged, unsharded $single" >>err
verdict 0 "$([[ -s err ]] && echo 99 || echo 0)" "" "merged steps = unsharded steps ($single)"

echo "== 9. replay checks the recorded outcome"
expect 1 "violation" "replay of an untouched schedule" -- replay sched.json
expect 2 "diverged" "replay of an edited schedule" -- replay edited.json
expect 2 "max-steps 5" "replay --max-steps 5" -- replay sched.json --max-steps 5
expect 2 "max-steps" "replay --max-steps 0" -- replay sched.json --max-steps 0

echo "== 9b. --arch on explore and replay"
expect 2 "unknown arch 'x86-99'" "explore --arch x86-99" -- explore pte-clear-vs-dirty --arch x86-99
expect 2 "runs on x86-32-pae only" "explore a PAE-only scenario on x86-64" -- explore pae-torn-entry --arch x86-64
expect 2 "runs on x86-64 only" "a hand-built x86-64 variant on x86-32" -- explore pte-clear-vs-dirty --variant xchg --arch x86-32
expect 2 "recorded on x86-64, not --arch x86-32" "replay --arch contradicting the file" -- replay sched.json --arch x86-32
expect 2 "unknown arch" "replay --arch x86-99" -- replay sched.json --arch x86-99

echo "== 9c. explore --jobs"
expect 2 "--jobs must be 1..256, got 0" "explore --jobs 0" -- explore pte-clear-vs-dirty --jobs 0
expect 2 "exhaustive search is one depth-first traversal" "explore --jobs 2 --strategy exhaustive" -- explore pte-clear-vs-dirty --jobs 2 --strategy exhaustive
expect 1 "violation" "explore --jobs 2 still finds the broken variant" -- explore pte-clear-vs-dirty --variant mprotect-plain-clear --schedules 400 --jobs 2 --out jobs-sched.json

echo "== 10-12. experiment ranges and small runs"
expect 2 "nmi-rate" "--nmi-rate 1e12" -- experiment vmalloc-sync --arch x86-64 --nmi-rate 1e12
expect 0 "deliberately broken|too small" "--procs 2 --vmallocs 100: broken-no-sync caught or too small, not a violation exit" -- experiment vmalloc-sync --arch x86-64 --procs 2 --vmallocs 100 --strategies lazy-fault,broken-no-sync
expect 0 "lazy-fault" "--procs 1 is valid" -- experiment vmalloc-sync --arch x86-64 --procs 1 --vmallocs 100 --strategies lazy-fault
expect 2 "--cpus.*1\.\.256.*257" "fault-locking --cpus 257" -- experiment fault-locking --arch x86-64 --cpus 4,257
expect 0 "per-vma +read-mostly +128 " "fault-locking at 128 CPUs (two cpumask words)" -- experiment fault-locking --arch x86-64 --paths per-vma --cpus 128 --faults 2

echo "== 13-15. groups, --format, typos"
for g in experiment mmu trace bench; do
  expect 0 "Usage: ptlab $g" "ptlab $g: help, exit 0" -- $g
done
expect 2 "text tour" "demo --format json is refused" -- demo --format json
expect 0 '"scenario"' "ptdump --list --format json" -- ptdump --list --format json
expect 2 "did you mean explore" "ptlab explor" -- explor
expect 0 "Usage: ptlab trace replay" "help trace replay" -- help trace replay

echo "== 16. one sync-level vocabulary"
for a in x86-32 x86-32-pae x86-64 x86-64-la57; do
  l=$("$PTLAB" layout --arch "$a" --format json | sed -n 's/.*"sync_level" : "\([a-z0-9]*\)".*/\1/p')
  e=$("$PTLAB" experiment vmalloc-sync --arch "$a" --procs 2 --vmallocs 10 --strategies shared-top 2>/dev/null |
      sed -n 's/.*sync level \([a-z0-9]*\)$/\1/p')
  : >err
  [[ -n "$l" && "$l" == "$e" ]] || echo "layout says '$l', experiment says '$e'" >err
  verdict 0 "$([[ -s err ]] && echo 99 || echo 0)" "" "$a: layout and experiment both say '$l'"
done

echo "== 17. wording"
expect 2 "at least 1" "--tlb-entries 0" -- trace replay t.lackey --trace-format lackey --arch x86-64 --tlb-entries 0
expect 2 "positive" "--ram 0" -- layout --arch x86-64 --ram 0
expect 2 "/proc/x" "trace generate -o /proc/x" -- trace generate --lines 1 -o /proc/x

echo "== 18. SIGTERM/Ctrl-C on experiment: the finished rows, a clean line"
env -u CI PTLAB_PROGRESS=1 "$PTLAB" experiment vmalloc-sync --arch x86-64 --procs 3000 --vmallocs 1000000 --jobs 1 \
  --strategies lazy-fault,eager-walk >out 2>err &
pid=$!
for _ in $(seq 1 600); do [[ -s err ]] && break; sleep 0.1; done   # the progress line: the run has begun
progress_seen=$([[ -s err ]] && echo yes || echo no)   # item 20: on stderr although stdout is a file
kill -TERM "$pid"
wait "$pid"
code=$?
tr '\r' '\n' <err | grep -v '^ *$' | grep -v 'vmalloc-sync x86-64 procs=' >err2
mv err2 err
[[ "$progress_seen" == yes ]] || echo "no progress on stderr with stdout redirected" >>err
verdict 143 "$code" "interrupted: [0-9]+ of 2 runs finished" "SIGTERM during the runs (Ctrl-C: 130), progress on stderr"

echo "== 19. ignored or inconsistent options"
expect 2 "max-depth" "--max-depth with random" -- explore pte-clear-vs-dirty --max-depth 3
expect 2 "sweep" "--procs with --sweep" -- experiment vmalloc-sync --arch x86-64 --procs 5 --sweep procs=10,20
expect 2 "twice" "--sweep procs=5,5" -- experiment vmalloc-sync --arch x86-64 --sweep procs=5,5
expect 2 "empty" '--out ""' -- explore pte-clear-vs-dirty --out ""
expect 2 "4K" "layout --ram 12345" -- layout --arch x86-64 --ram 12345

echo "== 20. the launcher picks the newest JDK >= 21 from its release file (no JVM started to ask)"
# Fake JDKs: a `java` that prints its name, with a release file (or none: then it is asked). Where
# there is a release file, the fake JVM's own answer differs from it (20 or 97): a launcher that
# asked the JVM instead of reading the file would choose differently.
fake_jdk() {   # fake_jdk DIR 'JAVA_VERSION="..."' (or "" for no release file) WHAT-THE-JVM-SAYS
  mkdir -p "$1/bin"
  printf '#!/bin/sh\ncase "$*" in *XshowSettings*) echo "    java.specification.version = %s" >&2; exit 0;; esac\necho "fake java %s"\n' "$3" "${1##*/}" >"$1/bin/java"
  chmod +x "$1/bin/java"
  [[ -n "$2" ]] && echo "$2" >"$1/release"
  return 0
}
fake_jdk "$T/jdk99" 'JAVA_VERSION="99.0.1"' 20
fake_jdk "$T/jdk8" 'JAVA_VERSION="1.8.0_402"' 97
fake_jdk "$T/jdk98-no-release" "" 98
fake_jdk "$T/jdk7-no-release" "" 1.7
# expect_launcher DESCRIPTION PATTERN JAVA_HOME
expect_launcher() {
  JAVA_HOME="$3" PTLAB_AOT=0 "$PTLAB" --version >out 2>err </dev/null
  verdict 0 "$?" "$2" "$1"
}
expect_launcher "JAVA_HOME 99 (release file) is newer than the system JDKs" "^fake java jdk99" "$T/jdk99"
expect_launcher "JAVA_HOME 1.8 (old release format) loses to a system JDK >= 21" "^ptlab [0-9]" "$T/jdk8"
expect_launcher "JAVA_HOME without a release file: the JVM is asked (98)" "^fake java jdk98-no-release" "$T/jdk98-no-release"
expect_launcher "JAVA_HOME without a release file, 1.7: a system JDK >= 21" "^ptlab [0-9]" "$T/jdk7-no-release"
ln -s "$PTLAB" "$T/ptlab-link"
"$T/ptlab-link" --version >out 2>err </dev/null
verdict 0 "$?" "^ptlab [0-9]" "run through a symbolic link elsewhere: finds its checkout"

echo "== internal errors: one line, the stack trace only with --debug"
expect 2 "unknown arch" "a bad --arch" -- layout --arch x86-99
"$PTLAB" layout --arch x86-99 --debug >out 2>err
verdict 2 $? "unknown arch" "a user error with --debug is still one line"

echo
echo "bad-input: $PASS passed, $FAIL failed"
[[ "$FAIL" == 0 ]]
