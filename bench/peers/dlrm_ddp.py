"""The PyTorch DDP side of bench/distributed_scaling.sh: the reference DLRM of
dlrm_pytorch.py trained data-parallel with torch.nn.parallel.DistributedDataParallel over the
gloo backend, on W processes of one host.

Every rank holds the whole model (tables included: plain DDP has no sharded tables) and trains
on its share (batch / W samples) of each global batch of random data, generated before timing;
DDP all-reduces every gradient — the tables' sparse ones too (gloo supports sparse
all-reduce). Each rank uses --threads compute threads. Rank 0 prints one JSON line with the
median step time and the global samples/s.
"""

import argparse
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from dlrm_pytorch import Dlrm, make_batch


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, args, port, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.world_size)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Dlrm(args.dense, args.tables, args.rows, args.dim, [512, 256, args.dim], [512, 256, 1])
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    local = argparse.Namespace(**vars(args))
    local.batch = args.batch // args.world_size
    gen = torch.Generator().manual_seed(1 + rank)
    batches = [make_batch(gen, local) for _ in range(8)]

    def step(batch):
        dense, ids, offsets, labels = batch
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(ddp(dense, ids, offsets), labels)
        loss.backward()
        optimizer.step()

    for i in range(args.warmup):
        step(batches[i % len(batches)])
    times = []
    for i in range(args.steps):
        dist.barrier()
        start = time.perf_counter()
        step(batches[i % len(batches)])
        times.append(time.perf_counter() - start)
    # The slowest rank sets the pace of a step.
    t = torch.tensor(times)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    if rank == 0:
        times = sorted(t.tolist())
        median = times[len(times) // 2]
        queue.put({
            "tool": "pytorch-ddp",
            "peer": f"pytorch {torch.__version__} DDP (gloo)",
            "world_size": args.world_size,
            "ms_per_step": median * 1e3,
            "samples_per_s": args.batch / median,
            "batch": args.batch,
            "tables": args.tables,
            "rows": args.rows,
            "dim": args.dim,
            "threads": args.threads,
        })
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--world-size", type=int, default=2)
    p.add_argument("--dense", type=int, default=13)
    p.add_argument("--tables", type=int, default=26)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--min-ids", type=int, default=1)
    p.add_argument("--max-ids", type=int, default=1)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(r, args, port, queue)) for r in range(args.world_size)]
    for proc in procs:
        proc.start()
    result = queue.get()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a rank exited with {proc.exitcode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
