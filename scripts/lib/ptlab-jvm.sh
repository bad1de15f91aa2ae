# Sourced by the walk measurement scripts (walk-ab, walk-gc, walk-jmh, walk-variants): the JDK
# ./ptlab runs on and the host option it adds, so that every script measures the JVM a user gets.
# Needs ROOT (the checkout) set by the caller.

# Sets JAVA to the JDK ./ptlab uses (recorded with its start-up cache in target/ptlab.aot.jdk),
# building the jar first if needed; exits 2 naming the calling script $1 when there is none.
ptlab_java() {
  "$ROOT/ptlab" --version >/dev/null
  JAVA="$(cut -d' ' -f1 "$ROOT/target/ptlab.aot.jdk" 2>/dev/null || true)"
  [[ -x "$JAVA" ]] || { echo "$1: no JDK recorded in target/ptlab.aot.jdk (needs a JDK 25 and ./ptlab's start-up cache: run ./ptlab --version)" >&2; exit 2; }
}

# True where the host lets the launcher back the heap with transparent huge pages (./ptlab then
# adds -XX:+UseTransparentHugePages).
host_has_thp() {
  grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
}
