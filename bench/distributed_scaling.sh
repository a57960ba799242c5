#!/usr/bin/env bash
# Training across ranks on one host: Cascade's DLRM (`cascade train`, tables sharded by the
# planner, dense gradients all-reduced over Open MPI) at 1 and 2 ranks, against PyTorch DDP
# (gloo backend, every table replicated, bench/peers/dlrm_ddp.py) and TorchRec's
# DistributedModelParallel (gloo, tables sharded by TorchRec's planner, fused FBGEMM CPU
# kernels, bench/peers/dlrm_torchrec.py, in .venv-torchrec) at 1 and 2 ranks, side by side in
# one run. Both train the reference DLRM (13 dense features, 26 tables x 100,000 rows x
# 64, one id per table, bottom MLP 13-512-256-64, dot interaction, top MLP 415-512-256-1, SGD)
# with a global batch of 2048 and one compute thread per rank.
#
# Cascade reads its batches from MDS shards (`cascade data synth --kind dlrm`, one loader thread
# per rank) and its figure is samples/s of the whole training loop; PyTorch trains on random
# batches generated before timing (the median step). Cascade also reports the bytes each rank
# sends and the seconds it spends in collectives per step.
#
# Prints each side's samples/s at 1 and 2 ranks, the scaling efficiency
# (samples/s at 2 ranks / (2 x samples/s at 1 rank)), and ends with `ratio R`: Cascade's
# samples/s over TorchRec's at 2 ranks (and, before it, over PyTorch DDP's).
#   bench/distributed_scaling.sh [STEPS]     # default 150 steps
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
steps=${1:-150}
py=$(scripts/python-env.sh bench)
pytr=$(scripts/python-env.sh torchrec)
mpirun=$(scripts/mpi-setup.sh)
cargo build --release -q -p cascade --features mpi
cascade=$root/target/release/cascade
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=$(( (steps + 10) * 2048 ))
"$cascade" data synth --kind dlrm --rows "$rows" --val-fraction 0 --test-fraction 0 \
  --out "$work/data" >/dev/null
sets=(--set data.batch_size=2048 --set train.threads=1 --set data.loader_threads=1
      --set "train.max_steps=$steps" --set train.checkpoint_every=0 --set train.log_every=1000)

cascade_run() {
  local ranks=$1 out=$work/run-$1
  if [ "$ranks" = 1 ]; then
    "$cascade" train configs/dlrm_synthetic.toml --data "$work/data" --out "$out" "${sets[@]}"
  else
    "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -n "$ranks" \
      "$cascade" train configs/dlrm_synthetic.toml --data "$work/data" --out "$out" "${sets[@]}"
  fi 2>/dev/null
}

c1=$(cascade_run 1)
c2=$(cascade_run 2)
p1=$(cd bench/peers && "$py" dlrm_ddp.py --world-size 1 --threads 1)
p2=$(cd bench/peers && "$py" dlrm_ddp.py --world-size 2 --threads 1)
t1=$(cd bench/peers && "$pytr" dlrm_torchrec.py --world-size 1 --threads 1 2>/dev/null | tail -1)
t2=$(cd bench/peers && "$pytr" dlrm_torchrec.py --world-size 2 --threads 1 2>/dev/null | tail -1)
"$py" - "$c1" "$c2" "$p1" "$p2" "$t1" "$t2" <<'PY'
import json, sys
c1, c2, p1, p2, t1, t2 = (json.loads(a) for a in sys.argv[1:])
def line(name, one, two, extra=""):
    eff = two / (2 * one)
    print(f"{name}: 1 rank {one:.0f} samples/s, 2 ranks {two:.0f} samples/s, "
          f"scaling efficiency {eff:.2f}{extra}")
comm = c2["communication"]
line("cascade", c1["samples_per_s"], c2["samples_per_s"],
     f"; per step at 2 ranks: {comm['bytes_sent_per_step'] / 2**20:.2f} MiB sent per rank, "
     f"{comm['seconds_per_step'] * 1e3:.1f} ms in collectives, "
     f"{comm['collectives_per_step']:.0f} collectives")
line(p2["peer"], p1["samples_per_s"], p2["samples_per_s"])
line(t2["peer"], t1["samples_per_s"], t2["samples_per_s"], f" (sharding: {t2.get('sharding')})")
print(f"ratio over PyTorch DDP at 2 ranks {c2['samples_per_s'] / p2['samples_per_s']:.2f}")
print(f"ratio {c2['samples_per_s'] / t2['samples_per_s']:.2f}")
PY
