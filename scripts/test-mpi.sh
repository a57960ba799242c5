#!/usr/bin/env bash
# Tests cascade-dist's MPI process group for real: installs Open MPI if needed
# (scripts/mpi-setup.sh), builds the `collectives` example with `--features mpi`, and runs it
# as a single process (Open MPI's singleton mode: a world of one) and under
# `mpirun -n 2` and `-n 4`. The example runs every collective with rank-dependent data and
# checks the results; any mismatch, crash or hang (timeout) exits non-zero.
#   scripts/test-mpi.sh
# --oversubscribe lets 4 ranks run on a machine with fewer cores; --allow-run-as-root lets the
# tests run in containers as root (mpirun refuses root otherwise).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mpirun=$(scripts/mpi-setup.sh)
cargo build -p cascade-dist --features mpi --example collectives --profile ci
binary="$root/target/ci/examples/collectives"
# A rank that dies must end the test, not hang it.
limit=120

echo "== singleton (no launcher)"
timeout "$limit" "$binary"
for ranks in 2 4; do
  echo "== mpirun -n $ranks"
  timeout "$limit" "$mpirun" --allow-run-as-root --oversubscribe -n "$ranks" "$binary"
done
echo "test-mpi: all collectives correct on 1, 2 and 4 ranks"
