#!/usr/bin/env bash
# Generation throughput of `cascade data synth --kind dlrm`, in rows per second.
#
# Builds the release binary, then generates ROWS rows (default 2,000,000) with the default
# settings (13 dense features, 26 tables of 100,000 ids, Zipf 1.05, one id per table,
# uncompressed shards as Mosaic's MDSWriter writes them, xxh64 hashes) three times, prints each
# run's rows, seconds and rows/s, and ends with `rows_per_s N`, the best run's figure.
# COMPRESSION (default none, the CLI's default) is passed as --compression: zstd measures
# compressed shards, which cost more CPU than generating the rows.
# Usage: bench/synth_throughput.sh [ROWS] [COMPRESSION]   (default 2000000 none)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
rows="${1:-2000000}"
compression="${2:-none}"

cargo build --release -p cascade --manifest-path "$root/Cargo.toml" >&2
bin="$root/target/release/cascade"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "cascade data synth --kind dlrm throughput (rows / wall second, compression $compression, xxh64)"
best=0
for run in 1 2 3; do
    start=$(date +%s.%N)
    "$bin" data synth --kind dlrm --rows "$rows" --compression "$compression" \
        --out "$work/dlrm" --force > "$work/run$run.log"
    end=$(date +%s.%N)
    rate=$(awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "%d", r / (e - s) }')
    awk -v n="$run" -v r="$rows" -v s="$start" -v e="$end" \
        'BEGIN { t = e - s; printf "run %d %10d rows %7.2f s %10d rows/s\n", n, r, t, r / t }'
    if (( rate > best )); then best=$rate; fi
done
echo "rows_per_s $best"
