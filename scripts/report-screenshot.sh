#!/usr/bin/env bash
# Checks that the HTML report of a real training run renders in a real browser: converts the
# Criteo sample, trains the tiny DLRM of the tracking tests, takes a full-page screenshot of the
# run's report.html with headless Chromium and checks the picture is not blank (its size, how
# many colours it has and how much of it is not background).
#   scripts/report-screenshot.sh [OUT.png]
# Installs Debian's chromium when it is missing (scripts/chromium-setup.sh: as root; otherwise
# it stops, saying how). Keeps OUT.png (default: a temporary file) for a look.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sample="$root/../shared/data/criteo-kaggle-sample/train.txt"
if [ ! -f "$sample" ]; then
  echo "error: $sample is missing; this check trains on the shared Criteo sample" >&2
  exit 1
fi
scripts/chromium-setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$(realpath -m "${1:-$work/report.png}")

# CASCADE_FEATURES (set by scripts/test.sh): the features of the build to reuse.
cargo build -q --profile ci --workspace --bin cascade ${CASCADE_FEATURES:+--features "$CASCADE_FEATURES"}
cascade="$root/target/ci/cascade"
"$cascade" data convert --format criteo --input "$sample" --out "$work/criteo" \
  --split random:0.2 >/dev/null
"$cascade" train crates/cli/tests/tiny_dlrm.toml --data "$work/criteo" --out "$work/run" \
  >/dev/null 2>"$work/train.log" || { cat "$work/train.log" >&2; exit 1; }
crates/track/scripts/screenshot-report.sh "$out" "$work/run/report.html" >/dev/null

# The PNG is decoded with Python's standard library only (8-bit RGB or RGBA, not interlaced,
# which is what Chromium writes), so the check needs no imaging package.
python3 - "$out" <<'PY'
import struct
import sys
import zlib
from collections import Counter

path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"error: {path} is not a PNG")
pos, chunks, header = 8, [], None
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        chunks.append(body)
    pos += 12 + length
width, height, depth, colour_type, _, _, interlace = header
channels = {2: 3, 6: 4}.get(colour_type)
if depth != 8 or channels is None or interlace:
    sys.exit(f"error: {path}: unexpected PNG layout (depth {depth}, colour type {colour_type})")
raw = zlib.decompress(b"".join(chunks))
stride = width * channels
previous = bytearray(stride)
counts = Counter()
for y in range(height):
    line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
    kind, row = line[0], bytearray(line[1:])
    for i in range(stride):
        left = row[i - channels] if i >= channels else 0
        up = previous[i]
        corner = previous[i - channels] if i >= channels else 0
        if kind == 1:
            row[i] = (row[i] + left) & 255
        elif kind == 2:
            row[i] = (row[i] + up) & 255
        elif kind == 3:
            row[i] = (row[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            row[i] = (row[i] + pred) & 255
    # One pixel in four along each row is plenty to judge the page.
    counts.update(bytes(row[x:x + 3]) for x in range(0, stride, channels * 4))
    previous = row
total = sum(counts.values())
background = counts.most_common(1)[0][1]
drawn = 1 - background / total
problems = []
if width < 800 or height < 2000:
    problems.append(f"size {width}x{height}")
if len(counts) < 50:
    problems.append(f"only {len(counts)} colours (charts are coloured lines on white)")
if drawn < 0.02:
    problems.append(f"only {drawn:.1%} of the page is not background")
if problems:
    sys.exit(f"error: {path} does not look like a rendered report: " + "; ".join(problems))
print(f"{path}: {width}x{height}, {len(counts)} colours, {drawn:.1%} drawn")
PY
