"""Writes MDS datasets with mosaicml-streaming's MDSWriter for Cascade to read: every encoding
Cascade supports, several compressions and digests, small shard size limits, and one merged
dataset whose index names shards in sub-folders. Each dataset folder gets an expected.jsonl:
every sample in order, in JSON form (numpy arrays as nested lists, numpy scalars as numbers,
bytes as lists of byte values), taken from streaming's own decoding of what it encoded.

Usage: write_with_mosaic.py OUT_DIR
"""

import json
import os
import sys

import numpy as np
from streaming import MDSWriter
from streaming.base.format.mds.encodings import mds_decode, mds_encode
from streaming.base.util import merge_index

COLUMNS = {
    "int": "int",
    "str": "str",
    "bytes": "bytes",
    "json": "json",
    "nd_any": "ndarray",
    "nd_int16": "ndarray:int16",
    "nd_f64_3x2": "ndarray:float64:3,2",
    **{f"s_{d}": d for d in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                             "uint64", "float16", "float32", "float64"]},
}

ND_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float16", "float32", "float64"]

# name, compression, hashes (sorted, as MDSWriter requires), size_limit, samples
DATASETS = [
    ("plain", None, ["sha1", "xxh64"], 4096, 60),
    ("zstd_7", "zstd:7", ["md5", "xxh3_64"], 4096, 50),
    ("gz", "gz:6", ["sha256"], 1 << 20, 40),
    ("bz2", "bz2", ["xxh128", "xxh32"], 3000, 30),
    ("snappy", "snappy", ["sha512"], 4096, 30),
    ("br", "br:5", [], 3500, 30),
]


def value(encoding, i):
    """A deterministic value for sample i under an encoding, spanning edge values."""
    if encoding == "int":
        return [-(2**63), 2**63 - 1, i * 7919 - 10**6][i % 3]
    if encoding == "str":
        return ["", "plain", "é ü 日本", "emoji 😀 \"q\"\n"][i % 4] * (1 + i % 3)
    if encoding == "bytes":
        return bytes((b * 97 + i) % 256 for b in range((i * 5) % 23))
    if encoding == "json":
        return {"i": i, "f": i / 7, "nested": {"list": [i, None, True, "é"], "empty": {}}}
    if encoding == "ndarray":
        dtype = ND_DTYPES[i % len(ND_DTYPES)]
        # Samples 0 and 3 are larger than most size limits: the writer then starts a new shard
        # (for sample 0, after an empty first shard).
        shape = (70000,) if i in (0, 3) else [(300,), (2, 3), (1, 2, 2), (5,)][i % 4]
        return (np.arange(int(np.prod(shape))) % 100 + i).astype(dtype).reshape(shape)
    if encoding == "ndarray:int16":
        return (np.arange(1 + i % 9) * 1000 - 4000).astype(np.int16)
    if encoding == "ndarray:float64:3,2":
        return (np.arange(6) / 7 + i).reshape(3, 2)
    info = np.finfo(encoding) if encoding.startswith("float") else np.iinfo(encoding)
    if encoding.startswith("float"):
        return getattr(np, encoding)([0.0, info.min, info.max, 1 / 3, i][i % 5])
    return getattr(np, encoding)([info.min, info.max, i % 100][i % 3])


def to_json(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (bytes, bytearray)):
        return list(v)
    return v


def write(directory, compression, hashes, size_limit, samples, start=0):
    """Writes one dataset; returns its samples' expected JSON lines."""
    lines = []
    with MDSWriter(out=directory, columns=COLUMNS, compression=compression, hashes=hashes,
                   size_limit=size_limit) as writer:
        for i in range(start, start + samples):
            sample = {name: value(enc, i) for name, enc in COLUMNS.items()}
            writer.write(sample)
            decoded = {name: to_json(mds_decode(enc, mds_encode(enc, sample[name])))
                       for name, enc in COLUMNS.items()}
            lines.append(json.dumps(decoded, sort_keys=True))
    return lines


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    for name, compression, hashes, size_limit, samples in DATASETS:
        directory = os.path.join(out, name)
        lines = write(directory, compression, hashes, size_limit, samples)
        with open(os.path.join(directory, "expected.jsonl"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {samples} samples")
    # Two partitions merged into one index whose shard names carry their sub-folder.
    merged = os.path.join(out, "merged")
    lines = write(os.path.join(merged, "0"), "zstd", ["xxh64"], 4096, 20)
    lines += write(os.path.join(merged, "1"), "zstd", ["xxh64"], 4096, 15, start=20)
    merge_index(merged, keep_local=True)
    with open(os.path.join(merged, "expected.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("merged: 35 samples in sub-folders 0/ and 1/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
