#!/usr/bin/env bash
# Tests training across ranks for real: installs Open MPI if needed (scripts/mpi-setup.sh),
# then
#  - runs cascade-dist's `collectives` example (every collective with rank-dependent data) as
#    a single process (Open MPI's singleton mode) and under `mpirun -n 2` and `-n 4`;
#  - runs the `sharded` example (sharded embedding tables against one whole collection) on
#    1 to 4 ranks;
#  - runs the binary's distributed tests (crates/cli/tests/distributed.rs): the same model on
#    1, 2 and 4 ranks, resharding a checkpoint, a killed rank, a hung rank.
# Any mismatch, crash or hang (timeout) exits non-zero. With --examples-only, the last step is
# left out (scripts/test.sh runs those tests within the whole suite, built with the mpi feature).
#   scripts/test-mpi.sh [--examples-only]
#   scripts/test-mpi.sh
# --oversubscribe lets 4 ranks run on a machine with fewer cores; --allow-run-as-root lets the
# tests run in containers as root (mpirun refuses root otherwise).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mpirun=$(scripts/mpi-setup.sh)
cargo build -p cascade-dist --features mpi --example collectives --example sharded --profile ci
binary="$root/target/ci/examples/collectives"
sharded="$root/target/ci/examples/sharded"
# A rank that dies must end the test, not hang it.
limit=120

echo "== singleton (no launcher)"
timeout "$limit" "$binary"
for ranks in 2 4; do
  echo "== mpirun -n $ranks"
  timeout "$limit" "$mpirun" --allow-run-as-root --oversubscribe -n "$ranks" "$binary"
done
echo "== sharded embedding tables"
for ranks in 1 2 3 4; do
  timeout "$limit" "$mpirun" --allow-run-as-root --oversubscribe -n "$ranks" "$sharded"
done
if [ "${1:-}" = --examples-only ]; then
  echo "test-mpi: collectives and sharded tables correct on 1 to 4 ranks"
  exit 0
fi
echo "== training across ranks"
MPIRUN="$mpirun" timeout 600 cargo test --workspace --features cascade/mpi --profile ci \
  --test distributed
echo "test-mpi: collectives, sharded tables and distributed training correct on 1 to 4 ranks"
