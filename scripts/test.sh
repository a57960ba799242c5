#!/usr/bin/env bash
# Runs every check of the project: formatting, lints, the Rust test suite (optimised build with
# debug assertions), and the interoperability tests against the Python peers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -d ../shared/data ]; then
  echo "error: ../shared/data is missing; the tests read the real datasets from there" >&2
  exit 1
fi
# What later steps install — Debian's Open MPI and Chromium (apt, as root), the Python venvs of
# the peers and test servers (pip) — is installed in the background while the first builds
# compile. Each step below still checks for what it needs (the venvs behind the same locks), so
# a failure here reports itself there; the logs say what happened.
# The venvs hold about 7 GB (mosaicml-streaming pulls PyPI's CUDA build of torch); pip's wheel
# cache would hold most of it a second time, on a disk the builds also fill.
export PIP_NO_CACHE_DIR=1
echo "disk before the checks: $(df -h --output=avail . | tail -1 | tr -d ' ') free" >&2
# On a failure, how much disk was left (the usual cause of a failed pip or link step).
trap 'status=$?; [ $status -eq 0 ] || echo "disk at exit $status: $(df -h --output=avail . | tail -1 | tr -d " ") free" >&2' EXIT
provision_logs=$(mktemp -d)
( scripts/mpi-setup.sh && scripts/chromium-setup.sh ) >"$provision_logs/apt.log" 2>&1 &
apt_job=$!
( scripts/python-env.sh && scripts/mlflow-server.sh python && scripts/postgres-server.sh bin ) \
  >"$provision_logs/pip.log" 2>&1 &
pip_job=$!
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --profile ci -- -D warnings
# Open MPI (installed in the background) for the MPI build: the test suite runs with the
# binary's `mpi` feature, so that the distributed tests under mpirun
# (crates/cli/tests/distributed.rs) run in the same build as every other test.
wait "$apt_job" || cat "$provision_logs/apt.log" >&2
MPIRUN=$(scripts/mpi-setup.sh)
export MPIRUN
cargo clippy -p cascade-dist -p cascade-train -p cascade --features cascade-dist/mpi,cascade-train/mpi,cascade/mpi --all-targets --profile ci -- -D warnings
wait "$pip_job" || cat "$provision_logs/pip.log" >&2
# One MLflow server for every tracking test (each test logs into its own run; a test that stops
# a server starts its own): starting one per test costs a database migration each time.
mlflow_store=$(mktemp -d)
trap 'status=$?; scripts/mlflow-server.sh stop "$mlflow_store"; rm -rf "$mlflow_store" "$provision_logs"; [ $status -eq 0 ] || echo "disk at exit $status: $(df -h --output=avail . | tail -1 | tr -d " ") free" >&2' EXIT
MLFLOW_TEST_URI=$(scripts/mlflow-server.sh start "$mlflow_store")
export MLFLOW_TEST_URI
# The scripts below build the binary with the same features, so they reuse this build.
export CASCADE_FEATURES=cascade/mpi
cargo test --workspace --profile ci --features "$CASCADE_FEATURES"
# The default build's own check: a multi-rank launch of a binary without MPI is refused.
cargo test -p cascade-dist --profile ci --lib
scripts/interop_mosaic.sh
# The MPI process group and the sharded tables against a real Open MPI on 1 to 4 ranks (the
# distributed training tests ran above).
scripts/test-mpi.sh --examples-only
# The HTML report of a training run, rendered by headless Chromium and checked not blank.
scripts/report-screenshot.sh
