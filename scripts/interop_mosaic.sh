#!/usr/bin/env bash
# Interoperability with the Python reference implementation of MDS (mosaicml-streaming 0.13), in
# both directions:
#   1. datasets Cascade writes (every encoding, compression none/zstd/gz/bz2/snappy/br, several
#      digests, multi-shard) must read back sample for sample with streaming.StreamingDataset,
#      and every digest must match streaming's own hashing;
#   2. datasets MDSWriter writes (every encoding, the same compressions, empty shards, a merged
#      index with shards in sub-folders) must pass `cascade data verify` and read back sample for
#      sample with Cascade's reader.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=$(scripts/python-env.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build -q --profile ci -p cascade-mds --examples
# CASCADE_FEATURES (set by scripts/test.sh): the features of the build to reuse.
cargo build -q --profile ci --workspace --bin cascade ${CASCADE_FEATURES:+--features "$CASCADE_FEATURES"}
run() { cargo run -q --profile ci "$@"; }

echo "== Cascade writes, mosaicml-streaming reads"
run -p cascade-mds --example write_interop -- "$work/cascade"
"$py" tests/interop/read_with_mosaic.py "$work"/cascade/*

echo "== mosaicml-streaming writes, Cascade reads"
"$py" tests/interop/write_with_mosaic.py "$work/mosaic"
for dir in "$work"/mosaic/*; do
  "$root/target/ci/cascade" data verify "$dir" | tail -n 1
done
run -p cascade-mds --example check_expected -- "$work"/mosaic/*
echo "interop with mosaicml-streaming: OK"
