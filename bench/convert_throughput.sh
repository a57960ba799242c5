#!/usr/bin/env bash
# Conversion throughput of `cascade data convert`, in input MB per second.
#
# Builds the release binary, then converts (1) MovieLens 100K ratings (u.data, repeated into a
# ~50 MB file so the figure is stable) and (2) the Criteo sample (train.txt, repeated the same
# way), each with the default output (zstd shards, xxh64 hashes, vocabularies), and prints MB/s.
# Usage: bench/convert_throughput.sh [TARGET_MB]   (default 50)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/../shared/data"
target_mb="${1:-50}"
for f in "$data/ml-100k/u.data" "$data/criteo-kaggle-sample/train.txt"; do
    [[ -f "$f" ]] || { echo "missing real data file $f (the shared data folder next to the repository)" >&2; exit 1; }
done

cargo build --release -p cascade --manifest-path "$root/Cargo.toml" >&2
bin="$root/target/release/cascade"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# repeat SRC DEST: concatenates SRC into DEST until DEST holds at least TARGET_MB megabytes,
# adding a newline after a copy that lacks one so rows never merge.
repeat() {
    local src="$1" dest="$2" bytes=0 want=$((target_mb * 1000 * 1000))
    : > "$dest"
    while (( bytes < want )); do
        cat "$src" >> "$dest"
        [[ "$(tail -c 1 "$src" | od -An -c | tr -d ' ')" == '\n' ]] || echo >> "$dest"
        bytes=$(stat -c %s "$dest")
    done
}

# measure NAME FORMAT INPUT: converts INPUT and prints rows, megabytes, seconds and MB/s.
measure() {
    local name="$1" format="$2" input="$3"
    local bytes start end
    bytes=$(stat -c %s "$input")
    start=$(date +%s.%N)
    "$bin" data convert --format "$format" --input "$input" --out "$work/out-$name" > "$work/$name.log"
    end=$(date +%s.%N)
    awk -v n="$name" -v b="$bytes" -v s="$start" -v e="$end" -v rows="$(head -1 "$work/$name.log" | awk '{print $2}')" \
        'BEGIN { t = e - s; printf "%-22s %10d rows %8.1f MB %7.2f s %8.1f MB/s\n", n, rows, b / 1e6, t, b / 1e6 / t }'
}

mkdir -p "$work/ml"
repeat "$data/ml-100k/u.data" "$work/ml/u.data"
repeat "$data/criteo-kaggle-sample/train.txt" "$work/criteo.txt"

echo "cascade data convert throughput (input MB / wall second, zstd + xxh64 output)"
measure "movielens-100k u.data" movielens-100k "$work/ml/u.data"
measure "criteo train.txt" criteo "$work/criteo.txt"
