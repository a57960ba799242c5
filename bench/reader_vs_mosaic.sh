#!/usr/bin/env bash
# Cascade's streaming reader against mosaicml-streaming 0.13.0's StreamingDataset, same shards,
# same run: DLRM-shaped samples (13 float32 dense values as ndarray:float32:13, 26 int64 ids as
# ndarray:int64:26, an int label) in zstd MDS shards of Mosaic's default 64 MiB, read from a local
# folder with shuffling on.
#   Cascade: batches of 4096 with 2 loader threads (release build), full Batch assembly.
#   Mosaic:  (a) a plain `for sample in dataset` loop, (b) a torch DataLoader with 2 workers and
#            batches of 4096, as it is normally used. The faster of the two is the peer figure.
# Ends with `ratio R`: Cascade's samples/s over the peer's.
#   bench/reader_vs_mosaic.sh [SAMPLES]      (default 1000000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
samples=${1:-1000000}
out="$root/bench/out/reader_vs_mosaic"
py=$(scripts/python-env.sh bench)
cargo build --release -q -p cascade-bench --bin gen_dlrm_mds --bin read_cascade
rm -rf "$out"
target/release/gen_dlrm_mds --out "$out" --samples "$samples" >&2
# Mosaic unpacks zstd shards next to them on first read; a warm-up epoch does that once so the
# timed epochs of both tools read the same already-prepared folder state fairly.
"$py" bench/mosaic_reader.py --local "$out/train" --mode plain --epochs 1 >/dev/null
cascade=$(target/release/read_cascade --root "$out" --batch-size 4096 --workers 2)
plain=$("$py" bench/mosaic_reader.py --local "$out/train" --mode plain)
loader=$("$py" bench/mosaic_reader.py --local "$out/train" --mode loader --batch-size 4096 --workers 2)
echo "$cascade"
echo "$plain"
echo "$loader"
"$py" - "$cascade" "$plain" "$loader" <<'PY'
import json, sys
c, p, l = (json.loads(a) for a in sys.argv[1:])
peer = max(p["samples_per_s"], l["samples_per_s"])
print(f"cascade {c['samples_per_s']:.0f} samples/s, mosaic plain {p['samples_per_s']:.0f}, "
      f"mosaic DataLoader {l['samples_per_s']:.0f}")
print(f"ratio {c['samples_per_s'] / peer:.2f}")
PY
