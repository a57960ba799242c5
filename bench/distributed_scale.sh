#!/usr/bin/env bash
# A table larger than one rank's memory budget, trained row-wise over 4 ranks of one host.
# The DLRM dataset has one 16,000,000-row id table beside 25 small ones; at dimension 16 in f32
# with row-wise Adagrad the big table is 16M x (16 x 4 + 4) B = 1.01 GiB, over the 512 MiB
# budget per rank (distributed.memory_per_rank), so the planner splits it row-wise: 4M rows and
# 260 MiB per rank. Prints the plan, trains STEPS steps under `mpirun -n 4` (one thread per rank,
# global batch 2048), and reports each rank's peak resident memory (none holds the whole table)
# and the samples/s.
#   bench/distributed_scale.sh [STEPS]     # default 100
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=${1:-100}
mpirun=$(scripts/mpi-setup.sh)
cargo build --release -q -p cascade --features mpi
cascade=$root/target/release/cascade
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cardinality="16000000$(printf ',1000%.0s' $(seq 25))"
"$cascade" data synth --kind dlrm --rows $(( (steps + 10) * 2048 )) --cardinality "$cardinality" \
  --val-fraction 0 --test-fraction 0 --out "$work/data" >/dev/null
sets=(--set model.embedding_dim=16 --set model.bottom_mlp=[64,16] --set model.top_mlp=[64,1]
      --set embeddings.optimizer=rowwise_adagrad --set distributed.memory_per_rank=512MiB
      --set data.batch_size=2048 --set train.threads=1 --set data.loader_threads=1
      --set "train.max_steps=$steps" --set train.log_every=1000)
"$cascade" plan configs/dlrm_synthetic.toml --data "$work/data" --world-size 4 "${sets[@]}"
echo "one rank alone cannot hold the big table:"
"$cascade" plan configs/dlrm_synthetic.toml --data "$work/data" --world-size 1 "${sets[@]}" 2>&1 | tail -1 || true
"$mpirun" --allow-run-as-root --oversubscribe --bind-to none -n 4 \
  /usr/bin/time -f "peak RSS of a rank: %M KiB" \
  "$cascade" train configs/dlrm_synthetic.toml --data "$work/data" --out "$work/run" "${sets[@]}" \
  > "$work/summary.json"
grep -E '"samples_per_s"|"steps"|"ranks"' "$work/summary.json"
ls -l "$work/run/checkpoints/"*/model/ | grep embeddings
