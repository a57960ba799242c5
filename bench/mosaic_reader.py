"""Times mosaicml-streaming's StreamingDataset over the same shards as read_cascade.

Two ways, as Mosaic is used: a plain `for sample in dataset` loop (no torch collation, the
cheapest path), and a torch DataLoader with worker processes and batching. Prints one JSON line
per mode with samples per second.
"""

import argparse
import json
import time

from streaming import StreamingDataset
from streaming.base.util import clean_stale_shared_memory


def plain(local, seed, epochs):
    clean_stale_shared_memory()
    ds = StreamingDataset(local=local, shuffle=True, shuffle_seed=seed, batch_size=1)
    n = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        for sample in ds:
            n += 1
    return n, time.perf_counter() - start


def loader(local, seed, epochs, batch_size, workers):
    import torch

    clean_stale_shared_memory()
    ds = StreamingDataset(local=local, shuffle=True, shuffle_seed=seed, batch_size=batch_size)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers)
    n = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        for batch in dl:
            n += len(batch["label"])
    return n, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--local", required=True, help="MDS folder (the split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--mode", choices=["plain", "loader"], default="plain")
    a = p.parse_args()
    if a.mode == "plain":
        n, s = plain(a.local, a.seed, a.epochs)
    else:
        n, s = loader(a.local, a.seed, a.epochs, a.batch_size, a.workers)
    print(json.dumps({"tool": f"mosaic-{a.mode}", "samples": n, "seconds": s,
                      "samples_per_s": n / s}))


if __name__ == "__main__":
    main()
