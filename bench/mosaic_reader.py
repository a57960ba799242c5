"""Times mosaicml-streaming's StreamingDataset over the same shards as read_cascade.

Modes:
  prepare  decompresses every shard once, untimed (Mosaic keeps the raw `.mds` beside the
           `.mds.zstd` when there is no remote), so the timed modes read prepared shards;
  plain    a `for sample in dataset` loop in this process (no torch), touching every field;
  loader   a torch DataLoader with worker processes and batches, as Mosaic is normally used,
           summing every column of every batch like read_cascade does.

Settings, kept equal to read_cascade's: no remote (the local folder is the dataset), shuffle on
with algorithm py1e, seed 0 and blocks of 2^18 samples (Cascade's window), and
`predownload = 8 * batch_size` given explicitly. The predownload matters: Mosaic's background
threads stop `predownload` samples ahead and then sleep 7 ms, so a dataset built without
`batch_size` (predownload 64) or with `batch_size=1` (predownload 8) is capped at roughly
`(predownload + 1) / 7 ms` samples per second whatever the hardware — about 1.3k samples/s for
`batch_size=1`, which made an earlier version of this script run for many minutes.
Prints one JSON line with the sample count and samples per second.
"""

import argparse
import json
import time

from streaming import StreamingDataset
from streaming.base.util import clean_stale_shared_memory


def dataset(a):
    """A StreamingDataset over the local folder with the settings shared with read_cascade."""
    clean_stale_shared_memory()
    return StreamingDataset(
        local=a.local,
        remote=None,
        shuffle=True,
        shuffle_algo="py1e",
        shuffle_seed=a.seed,
        shuffle_block_size=a.shuffle_block,
        batch_size=a.batch_size,
        predownload=8 * a.batch_size,
    )


def prepare(a):
    """Decompresses every shard that has no raw form yet; returns the shard count."""
    ds = dataset(a)
    for shard in range(len(ds.shards)):
        ds.prepare_shard(shard)
    return len(ds.shards), 0.0


def plain(a):
    """One process iterating samples; every field of every sample is read."""
    ds = dataset(a)
    n = 0
    start = time.perf_counter()
    for _ in range(a.epochs):
        for sample in ds:
            sample["dense"], sample["sparse"], sample["label"]
            n += 1
    return n, time.perf_counter() - start


def loader(a):
    """A torch DataLoader with worker processes; every column of every batch is summed."""
    import warnings

    import torch

    # Mosaic's samples are read-only views of the shard; collating them is still a copy.
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    ds = dataset(a)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch_size, num_workers=a.workers)
    n = 0
    checksum = 0.0
    start = time.perf_counter()
    for _ in range(a.epochs):
        for batch in dl:
            n += len(batch["label"])
            checksum += float(batch["label"].sum() + batch["dense"].sum()
                              + batch["sparse"].double().sum())
    return n, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--local", required=True, help="MDS folder (the split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shuffle-block", type=int, default=1 << 18)
    p.add_argument("--mode", choices=["prepare", "plain", "loader"], default="plain")
    a = p.parse_args()
    n, s = {"prepare": prepare, "plain": plain, "loader": loader}[a.mode](a)
    print(json.dumps({"tool": f"mosaic-{a.mode}", "samples": n, "seconds": s,
                      "samples_per_s": n / s if s else None}))


if __name__ == "__main__":
    main()
