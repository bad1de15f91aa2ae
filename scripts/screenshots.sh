#!/usr/bin/env bash
# Regenerates the README's screenshots with headless Chromium (Debian: apt-get install chromium):
#   docs/report.png             the HTML report that `ptlab demo` writes
#   docs/viewer-schedule.png    `ptlab serve`: the demo's schedule stepped to its violation
#   docs/viewer-translate.png   `ptlab serve`: a user write to a read-only page on x86-64
# Usage: scripts/screenshots.sh [CHROMIUM]
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${1:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$CHROMIUM" ]; then
    echo "screenshots: no chromium found (apt-get install chromium)" >&2
    exit 2
fi
work=$(mktemp -d)
serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

./ptlab demo --out "$work/demo" > "$work/demo.txt"
shot() {   # shot FILE WIDTHxHEIGHT URL
    "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size="$2" \
        --virtual-time-budget=8000 --screenshot="$1" "$3" 2>/dev/null
    echo "wrote $1"
}
shot docs/report.png 1300,1500 "file://$work/demo/report.html"

./ptlab serve --data "$work/demo" > "$work/serve.txt" 2>&1 &
serve_pid=$!
url=
for _ in $(seq 1 120); do
    url=$(sed -n 's/^serving \(http:[^ ]*\) .*/\1/p' "$work/serve.txt")
    [ -n "$url" ] && break
    sleep 0.5
done
if [ -z "$url" ]; then
    echo "screenshots: ptlab serve did not start: $(cat "$work/serve.txt")" >&2
    exit 3
fi
shot docs/viewer-schedule.png 1300,900 "${url}?tab=schedule&schedule=schedule-vmalloc-sync-race.json&step=last"
shot docs/viewer-translate.png 1300,620 "${url}?mode=x86-64&va=0x603000&access=write"
