#!/usr/bin/env bash
# Cascade's DLRM training step against the reference PyTorch DLRM (bench/peers/dlrm_pytorch.py:
# nn.EmbeddingBag(mode="sum", sparse=True) per table + torch.optim.SGD, as facebookresearch/dlrm),
# side by side in one run, on the reference configuration: 13 dense features, 26 tables x
# 100,000 rows x 64 dims, one id per table, bottom MLP 13-512-256-64, dot interaction, top MLP
# 415-512-256-1, batch 2048, SGD (lr 0.01), 2 threads, random batches generated before timing.
# A step is forward, loss, backward and update; each side reports its median over 30 timed steps
# after 5 warm-up steps (Cascade: bench/src/bin/dlrm_train.rs, the real RankingModel).
#
# The two sides run alternately, REPEATS times each (default 3); on a shared machine the other
# load hits both, so the figure of each side is its best (fastest median) repeat, and every
# repeat is printed.
#
# Precision: on a CPU with AVX-512 BF16, Cascade's fastest reference step multiplies its MLPs
# in bf16 (model.mlp_precision = "bf16": bf16 operands, f32 sums, weights and gradients; the
# synthetic and Criteo-sample AUCs match f32's). The script then times the reference three
# ways: both sides in f32 (`ratio f32 R`), Cascade bf16 against PyTorch under bf16 autocast
# (`ratio over pytorch bf16 autocast R`), and Cascade bf16 against the reference PyTorch DLRM in
# f32, the issue's peer, which is the last line, `ratio R`. On other CPUs only the f32 runs
# happen and `ratio R` is theirs.
#   bench/dlrm_vs_pytorch.sh              # reference configuration only (about 4 minutes)
#   bench/dlrm_vs_pytorch.sh --variants   # also 8 tables, 1-10 ids per bag, row-wise Adagrad
#                                         # (f32), and Cascade end to end from MDS shards
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
variants=0
case "${1:-}" in
  "") ;;
  --variants) variants=1 ;;
  *) echo "usage: bench/dlrm_vs_pytorch.sh [--variants]" >&2; exit 2 ;;
esac
bf16=0
grep -qw avx512_bf16 /proc/cpuinfo && bf16=1
repeats=${REPEATS:-3}
py=$(scripts/python-env.sh bench)
cargo build --release -q -p cascade-bench --bin dlrm_train --bin gen_dlrm_mds
cascade=target/release/dlrm_train

# Runs both sides `repeats` times with the extra arguments "$@" and prints one summary line;
# the last summary's ratio is left in $ratio. PEER_ARGS, when set, go to the PyTorch side last
# (argparse keeps the last value of an option, so they override "$@" there).
compare() {
  local name=$1
  shift
  local runs=()
  for _ in $(seq "$repeats"); do
    runs+=("$("$cascade" "$@")")
    # shellcheck disable=SC2086
    runs+=("$("$py" bench/peers/dlrm_pytorch.py "$@" ${PEER_ARGS:-})")
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
      f"peak RSS {c['peak_rss_bytes'] / 2**20:.0f} MiB = {c['rss_over_needed']:.2f}x model + "
      f"optimizer state + batches), pytorch {p['samples_per_s']:.0f} samples/s "
      f"({p['ms_per_step']:.1f} ms/step, peak RSS {p['peak_rss_bytes'] / 2**20:.0f} MiB), "
      f"ratio {ratio:.2f}", file=sys.stderr)
print(f"{ratio:.2f}")
PY
)
}

if [ "$variants" = 1 ]; then
  compare "8 tables, one id" --tables 8
  compare "26 tables, 1-10 ids" --min-ids 1 --max-ids 10
  compare "8 tables, 1-10 ids" --tables 8 --min-ids 1 --max-ids 10
  compare "26 tables, row-wise Adagrad" --optimizer rowwise_adagrad
  data="$root/bench/out/dlrm_train"
  if [ ! -f "$data/cascade.json" ]; then
    rm -rf "$data"
    target/release/gen_dlrm_mds --out "$data" --samples 131072 >&2
  fi
  # End to end: one loader thread reading and decompressing zstd shards next to the two
  # compute threads, batches of 2048 turned into 26 one-id features, 5 + 55 steps.
  precisions=(f32)
  [ "$bf16" = 1 ] && precisions+=(bf16)
  for precision in "${precisions[@]}"; do
    e2e=$("$cascade" --data "$data" --workers 1 --warmup 5 --steps 55 --precision "$precision")
    echo "$e2e" >&2
    "$py" - "$e2e" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"end to end from MDS shards ({r['precision']} MLPs): cascade {r['samples_per_s']:.0f} "
      f"samples/s ({r['ms_per_step']:.1f} ms/step)", file=sys.stderr)
PY
  done
fi
compare "reference (26 tables, one id, SGD), f32 on both sides"
echo "ratio f32 $ratio"
if [ "$bf16" = 1 ]; then
  PEER_ARGS="--precision bf16" compare "reference, Cascade bf16 MLPs, PyTorch bf16 autocast" \
    --precision bf16
  echo "ratio over pytorch bf16 autocast $ratio"
  PEER_ARGS="--precision f32" compare "reference, Cascade bf16 MLPs, PyTorch f32" \
    --precision bf16
fi
echo "ratio $ratio"
