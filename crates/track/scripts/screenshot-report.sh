#!/usr/bin/env bash
# Checks that a run's HTML report renders in a real browser: takes a full-page screenshot of it
# with headless Chromium (Debian: `apt-get install -y chromium`).
#   crates/track/scripts/screenshot-report.sh OUT.png [REPORT.html]
# Without REPORT.html, a demonstration run with every chart is written first.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:?usage: $0 OUT.png [REPORT.html]}
report=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$report" ]; then
  report=$(cd "$root" && cargo run -q -p cascade-track --example demo_report -- "$work/runs")
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "error: chromium is not installed (apt-get install -y chromium)" >&2
  exit 1
fi
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --hide-scrollbars --user-data-dir="$work/profile" --window-size=900,4200 \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$report")" 2>"$work/browser.log" || {
  cat "$work/browser.log" >&2
  exit 1
}
[ -s "$out" ] || { echo "error: no screenshot written" >&2; exit 1; }
echo "$out"
