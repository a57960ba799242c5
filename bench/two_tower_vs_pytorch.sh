#!/usr/bin/env bash
# Cascade's two-tower training step against a PyTorch two-tower of the same architecture
# (bench/peers/two_tower_pytorch.py --mode speed: one nn.EmbeddingBag per tower feature, row-wise
# Adagrad on the tables as TorchRec does it, Adam on the tower MLPs), side by side in one run,
# on the issue's shape: ML-1M-sized id tables (6,040 users, 3,706 items), 64-wide id
# embeddings, towers 64-64, batch 4096, 2 threads, random batches generated before timing.
# A step is both towers forward, the loss, backward and both updates; each side reports its
# median over 30 timed steps after 5 warm-up steps (Cascade: bench/src/bin/two_tower_train.rs,
# the real TwoTowerModel).
#
# Two objectives: pointwise BCE on the dot product (the reference notebook's), and the in-batch
# sampled softmax with the log-Q correction over cosine scores at temperature 0.05 (the
# recommended preset's). The sides run alternately REPEATS times each (default 3); each side's
# figure is its best repeat. Ends with `ratio R`: Cascade's samples/s over PyTorch's for BCE.
#   bench/two_tower_vs_pytorch.sh             # both objectives (about 3 minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
repeats=${REPEATS:-3}
py=$(scripts/python-env.sh bench)
cargo build --release -q -p cascade-bench --bin two_tower_train
cascade=target/release/two_tower_train

# Runs both sides `repeats` times; cascade's arguments first, then the peer's after `--`.
# Prints one summary line; the ratio is left in $ratio.
compare() {
  local name=$1
  shift
  local ours=() theirs=() seen=0
  for a in "$@"; do
    if [ "$a" = -- ]; then seen=1; elif [ $seen = 0 ]; then ours+=("$a"); else theirs+=("$a"); fi
  done
  local runs=()
  for _ in $(seq "$repeats"); do
    runs+=("$("$cascade" "${ours[@]}")")
    runs+=("$("$py" bench/peers/two_tower_pytorch.py --mode speed "${theirs[@]}" | tail -n 1)")
  done
  printf '%s\n' "${runs[@]}" >&2
  ratio=$("$py" - "$name" "${runs[@]}" <<'PY'
import json, sys
name, runs = sys.argv[1], [json.loads(a) for a in sys.argv[2:]]
best = {}
for r in runs:
    if r["tool"] not in best or r["samples_per_s"] > best[r["tool"]]["samples_per_s"]:
        best[r["tool"]] = r
c, p = best["cascade"], best["pytorch"]
ratio = c["samples_per_s"] / p["samples_per_s"]
print(f"{name}: cascade {c['samples_per_s']:.0f} samples/s ({c['ms_per_step']:.1f} ms/step, "
      f"peak RSS {c['peak_rss_bytes'] / 2**20:.0f} MiB), pytorch {p['samples_per_s']:.0f} "
      f"samples/s ({p['ms_per_step']:.1f} ms/step, peak RSS "
      f"{p['peak_rss_bytes'] / 2**20:.0f} MiB), ratio {ratio:.2f}", file=sys.stderr)
print(f"{ratio:.2f}")
PY
)
}

compare "softmax, cosine / 0.05" --loss softmax --cosine --temperature 0.05 \
  -- --loss softmax --cosine --temperature 0.05
compare "bce, dot product" --loss bce -- --loss bce --no-cosine --temperature 1.0
echo "ratio $ratio"
