#!/usr/bin/env bash
# Cascade's streaming reader against mosaicml-streaming 0.13.0's StreamingDataset, same shards,
# same run: DLRM-shaped samples (13 float32 dense values as ndarray:float32:13, 26 int64 ids as
# ndarray:int64:26, an int label) in zstd MDS shards of Mosaic's default 64 MiB, read from a local
# folder (no remote), one full epoch each, shuffled the same way on both sides (seed 0, blocks of
# 2^18 samples), every field of every sample decoded.
#   Cascade: batches of 4096 with 2 loader threads (release build), full Batch assembly, one
#            epoch before the peer and one after; the mean is the Cascade figure.
#   Mosaic:  (a) a plain `for sample in dataset` loop, (b) a torch DataLoader with 2 workers and
#            batches of 4096, as it is normally used. The faster of the two is the peer figure.
# Mosaic decompresses each zstd shard once into a raw `.mds` beside it and then reads the raw
# file; that is done before timing, so the peer's timed epochs skip decompression, while
# Cascade decompresses the zstd shards inside its timed epochs (in Mosaic's favour).
# Ends with `ratio R`: Cascade's samples/s over the peer's.
#   bench/reader_vs_mosaic.sh [SAMPLES]      (default 1000000; about 5 minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
samples=${1:-1000000}
out="$root/bench/out/reader_vs_mosaic"
py=$(scripts/python-env.sh bench)
cargo build --release -q -p cascade-bench --bin gen_dlrm_mds --bin read_cascade
rm -rf "$out"
target/release/gen_dlrm_mds --out "$out" --samples "$samples" >&2
"$py" bench/mosaic_reader.py --local "$out/train" --mode prepare >/dev/null
cascade1=$(target/release/read_cascade --root "$out" --batch-size 4096 --workers 2)
plain=$("$py" bench/mosaic_reader.py --local "$out/train" --mode plain)
loader=$("$py" bench/mosaic_reader.py --local "$out/train" --mode loader --batch-size 4096 \
  --workers 2)
cascade2=$(target/release/read_cascade --root "$out" --batch-size 4096 --workers 2)
printf '%s\n' "$cascade1" "$plain" "$loader" "$cascade2"
"$py" - "$samples" "$cascade1" "$cascade2" "$plain" "$loader" <<'PY'
import json, sys
samples = int(sys.argv[1])
c1, c2, p, l = (json.loads(a) for a in sys.argv[2:])
for run in (c1, c2, p, l):
    if run["samples"] != samples:
        sys.exit(f"{run['tool']} read {run['samples']} samples, expected {samples}")
cascade = (c1["samples_per_s"] + c2["samples_per_s"]) / 2
peer = max(p["samples_per_s"], l["samples_per_s"])
print(f"cascade {cascade:.0f} samples/s ({c1['samples_per_s']:.0f} before the peer, "
      f"{c2['samples_per_s']:.0f} after), mosaic plain {p['samples_per_s']:.0f}, "
      f"mosaic DataLoader {l['samples_per_s']:.0f}")
print(f"ratio {cascade / peer:.2f}")
PY
