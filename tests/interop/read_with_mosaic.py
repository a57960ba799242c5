"""Reads MDS datasets written by Cascade with mosaicml-streaming's StreamingDataset and checks
every sample against the dataset's expected.jsonl.

Usage: read_with_mosaic.py DATASET_DIR...

Values are compared in JSON form (numpy arrays as nested lists, numpy scalars as Python
numbers, bytes as lists of byte values), as strictly as json.dumps tells them apart: an int
never matches a float. Every digest in index.json is also recomputed with streaming's own hashing. Prints
"N passed, M failed" (samples, plus one failure per wrong digest) and exits non-zero on any
mismatch or error.
"""

import json
import sys

import numpy as np
from streaming import StreamingDataset
from streaming.base.hashing import get_hash
from streaming.base.util import clean_stale_shared_memory


def to_json(value):
    """The JSON form Cascade's Value::to_json gives the same value."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    return value


def canonical(obj):
    return json.dumps(obj, sort_keys=True, ensure_ascii=True)


def check_hashes(directory):
    """Recomputes every digest index.json lists with streaming's own hashing; returns the
    number of mismatches (each printed). Run after reading, when the raw files exist too."""
    with open(f"{directory}/index.json", encoding="utf-8") as f:
        index = json.load(f)
    bad = 0
    for shard in index["shards"]:
        for info in (shard["raw_data"], shard["zip_data"]):
            if info is None:
                continue
            try:
                with open(f"{directory}/{info['basename']}", "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue  # a raw file the reader did not unpack
            if len(data) != info["bytes"]:
                print(f"FAIL {directory}/{info['basename']}: {len(data)} bytes, index says {info['bytes']}")
                bad += 1
            for algo, digest in info["hashes"].items():
                if get_hash(algo, data) != digest:
                    print(f"FAIL {directory}/{info['basename']}: {algo} digest differs")
                    bad += 1
    return bad


def check(directory):
    """Returns (passed, failed) sample counts for one dataset."""
    with open(f"{directory}/expected.jsonl", encoding="utf-8") as f:
        expected = [json.loads(line) for line in f]
    dataset = StreamingDataset(local=directory, shuffle=False, batch_size=1)
    passed = failed = 0
    if dataset.num_samples != len(expected):
        print(f"FAIL {directory}: {dataset.num_samples} samples, expected {len(expected)}")
        return passed, failed + 1
    for i, want in enumerate(expected):
        sample = dataset[i]
        got = {key: to_json(value) for key, value in sample.items()}
        if canonical(got) == canonical(want):
            passed += 1
            continue
        failed += 1
        for key in sorted(set(got) | set(want)):
            if canonical(got.get(key)) != canonical(want.get(key)):
                print(f"FAIL {directory} sample {i} column {key!r}: "
                      f"read {canonical(got.get(key))[:200]}, expected {canonical(want.get(key))[:200]}")
    bad_hashes = check_hashes(directory)
    print(f"{directory}: {passed} of {len(expected)} samples match, {bad_hashes} digest mismatches")
    return passed, failed + bad_hashes


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    clean_stale_shared_memory()
    passed = failed = 0
    for directory in sys.argv[1:]:
        try:
            p, f = check(directory)
        except Exception as e:  # a dataset the reader cannot open at all is one failure
            print(f"FAIL {directory}: {type(e).__name__}: {e}")
            p, f = 0, 1
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
