#!/usr/bin/env bash
# Machine code of HotSpot's C2 compilations, disassembled, without the hsdis plugin (this VM has
# none): -XX:+PrintAssembly then prints each compiled method as hex, which this script turns back
# into bytes and disassembles with objdump, keeping HotSpot's comments (calls, oops, safepoint
# polls) at their addresses. How issue 15 looked at the walker's code (PageWalker).
#
#   scripts/jit-disasm.sh METHOD [PTLAB ARGS...]
#     METHOD   a CompileCommand pattern, e.g. 'ptlab.hw.PageWalker::walkLevels64' or
#              'ptlab.hw.PageWalker::*'
#     ARGS     the ptlab command to run (default: bench walk --seconds 2)
#
# Prints one section per C2 compilation ("===== Compiled method (c2) ..." then the code); C1
# compilations are skipped. Needs python3 and objdump (binutils).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(( $# >= 1 )) || { echo "usage: scripts/jit-disasm.sh METHOD [PTLAB ARGS...]" >&2; exit 2; }
METHOD="$1"; shift
(( $# )) || set -- bench walk --seconds 2
command -v objdump >/dev/null || { echo "jit-disasm.sh: needs objdump (binutils)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "jit-disasm.sh: needs python3" >&2; exit 2; }
"$ROOT/ptlab" --version >/dev/null                       # builds target/ptlab.jar if needed
JAVA="$(cut -d' ' -f1 "$ROOT/target/ptlab.aot.jdk" 2>/dev/null || true)"
[[ -x "$JAVA" ]] || JAVA=java
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ptlab-disasm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$JAVA" --add-exports java.base/jdk.internal.vm=ALL-UNNAMED -XX:+UseParallelGC -XX:+UnlockDiagnosticVMOptions \
  -XX:CompileCommand=quiet -XX:CompileCommand="print,$METHOD" -jar "$ROOT/target/ptlab.jar" "$@" >"$WORK/print.txt" 2>&1 || true
python3 - "$WORK/print.txt" "$WORK/blob" <<'PY'
import re, subprocess, sys
lines = open(sys.argv[1], errors="replace").read().split("\n")
blocks, cur = [], None
for line in lines:
    if line.startswith("Compiled method"):
        cur = {"hdr": line, "bytes": bytearray(), "start": None, "notes": {}}
        blocks.append(cur)
        continue
    if cur is None:
        continue
    m = re.match(r"\s+0x([0-9a-f]+): (.*)$", line)
    if not m:
        continue
    addr, rest = int(m.group(1), 16), m.group(2)
    if rest.startswith(";"):
        cur["notes"].setdefault(addr, []).append(rest)
        continue
    digits = rest.replace("|", "").replace(" ", "")
    if not re.fullmatch(r"[0-9a-f]*", digits):
        continue
    if cur["start"] is None:
        cur["start"] = addr
    off = addr - cur["start"]
    b = bytes.fromhex(digits)
    if len(cur["bytes"]) < off:
        cur["bytes"] += b"\0" * (off - len(cur["bytes"]))
    cur["bytes"][off:off + len(b)] = b
for blk in blocks:
    if "(c1)" in blk["hdr"] or blk["start"] is None:
        continue
    print("=====", blk["hdr"], len(blk["bytes"]), "bytes")
    open(sys.argv[2], "wb").write(blk["bytes"])
    out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64",
                          "--adjust-vma=%#x" % blk["start"], sys.argv[2]], capture_output=True, text=True).stdout
    for l in out.split("\n")[7:]:
        m = re.match(r"\s*([0-9a-f]+):", l)
        if m:
            for n in blk["notes"].get(int(m.group(1), 16), []):
                print("        " + n[:160])
        print(l)
PY
