"""TorchRec peer: a DLRM trained with TorchRec's DistributedModelParallel on CPU over gloo.

Same shape as dlrm_pytorch.py: 13 dense features, N tables of R rows x D dims with one id per
table per sample (sum pooling), bottom MLP 13-512-256-D, pairwise dot interaction without self
pairs, top MLP 512-256-1, BCE with logits. The model is torchrec.models.dlrm.DLRM over an
EmbeddingBagCollection built on the meta device and materialised shard by shard by
DistributedModelParallel, with the plan from TorchRec's EmbeddingShardingPlanner for a CPU
topology (on CPU the sharder offers data_parallel, table_wise, column_wise and
table_column_wise; --sharding forces one of them through ParameterConstraints). The tables are
trained by FBGEMM's fused CPU kernel with the optimizer applied in backward
(apply_optimizer_in_backward: torch.optim.SGD -> EXACT_SGD, or torchrec's RowWiseAdagrad ->
EXACT_ROWWISE_ADAGRAD); the dense layers are wrapped in DDP and trained with plain SGD.

W processes are spawned with torch.multiprocessing (gloo, MASTER_ADDR=127.0.0.1, a free port);
each runs torch.set_num_threads(--threads) and trains on B/W samples of the global batch B.
The batches are generated before timing. 5 warm-up steps, then 30 timed steps; a step's time
is the slowest rank's, and the figure is the median. Rank 0 prints one JSON line.

Needs the .venv-torchrec environment (see requirements-torchrec.txt).
"""

import argparse
import json
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WARMUP = 5
STEPS = 30
DENSE = 13


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_batches(args, rank, local_batch, count):
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    gen = torch.Generator().manual_seed(1234 + rank)
    keys = [f"f{t}" for t in range(args.tables)]
    batches = []
    for _ in range(count):
        dense = torch.randn(local_batch, DENSE, generator=gen)
        # one id per table per sample: values are key-major (all of f0's ids, then f1's, ...)
        values = torch.randint(0, args.rows, (args.tables * local_batch,), generator=gen)
        lengths = torch.ones(args.tables * local_batch, dtype=torch.int32)
        kjt = KeyedJaggedTensor.from_lengths_sync(keys=keys, values=values, lengths=lengths)
        labels = torch.randint(0, 2, (local_batch,), generator=gen).float()
        batches.append((dense, kjt, labels))
    return batches


def worker(rank, args, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ["RANK"] = str(rank)
    os.environ["LOCAL_RANK"] = str(rank)
    os.environ["WORLD_SIZE"] = str(args.world_size)
    os.environ["LOCAL_WORLD_SIZE"] = str(args.world_size)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(args.threads)

    import torchrec
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.planner import EmbeddingShardingPlanner
    from torchrec.distributed.planner.types import (
        KernelConfig,
        ParameterConstraints,
        TopologyFactory,
        TrainerConfig,
    )
    from torchrec.distributed.types import ShardingEnv
    from torchrec.models.dlrm import DLRM
    from torchrec.modules.embedding_configs import EmbeddingBagConfig
    from torchrec.modules.embedding_modules import EmbeddingBagCollection
    from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
    from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
    from torchrec.optim.optimizers import in_backward_optimizer_filter
    from torchrec.optim.rowwise_adagrad import RowWiseAdagrad

    dist.init_process_group("gloo", rank=rank, world_size=args.world_size)
    pg = dist.group.WORLD
    device = torch.device("cpu")
    torch.manual_seed(0)

    tables = [
        EmbeddingBagConfig(
            name=f"t{t}",
            embedding_dim=args.dim,
            num_embeddings=args.rows,
            feature_names=[f"f{t}"],
        )
        for t in range(args.tables)
    ]
    ebc = EmbeddingBagCollection(tables=tables, device=torch.device("meta"))
    model = DLRM(
        embedding_bag_collection=ebc,
        dense_in_features=DENSE,
        dense_arch_layer_sizes=[512, 256, args.dim],
        over_arch_layer_sizes=[512, 256, 1],
        dense_device=device,
    )

    if args.optimizer == "sgd":
        apply_optimizer_in_backward(torch.optim.SGD, model.sparse_arch.parameters(), {"lr": args.lr})
    else:
        apply_optimizer_in_backward(
            RowWiseAdagrad, model.sparse_arch.parameters(), {"lr": args.lr, "eps": 1e-8}
        )

    constraints = {
        f"t{t}": ParameterConstraints(
            sharding_types=None if args.sharding == "auto" else [args.sharding],
            pooling_factors=[1.0],
        )
        for t in range(args.tables)
    }
    planner = EmbeddingShardingPlanner(
        topology=TopologyFactory.create_topology(
            trainer_config=TrainerConfig(
                world_size=args.world_size, local_world_size=args.world_size
            ),
            kernel_config=KernelConfig(compute_device="cpu"),
        ),
        batch_size=args.batch // args.world_size,
        constraints=constraints,
    )
    sharders = [EmbeddingBagCollectionSharder()]
    plan = planner.collective_plan(model, sharders, pg)

    dmp = DistributedModelParallel(
        module=model,
        env=ShardingEnv.from_process_group(pg),
        device=device,
        plan=plan,
        sharders=sharders,
    )
    dense_opt = KeyedOptimizerWrapper(
        dict(in_backward_optimizer_filter(dmp.named_parameters())),
        lambda params: torch.optim.SGD(params, lr=args.lr),
    )
    opt = CombinedOptimizer([dmp.fused_optimizer, dense_opt])
    loss_fn = torch.nn.BCEWithLogitsLoss()

    sharding_counts = {}
    for module_plan in plan.plan.values():
        for ps in module_plan.values():
            key = f"{ps.sharding_type}/{ps.compute_kernel}"
            sharding_counts[key] = sharding_counts.get(key, 0) + 1

    local_batch = args.batch // args.world_size
    batches = make_batches(args, rank, local_batch, min(WARMUP + STEPS, 8))

    def step(i):
        dense, kjt, labels = batches[i % len(batches)]
        opt.zero_grad()
        logits = dmp(dense, kjt).squeeze(1)
        loss = loss_fn(logits, labels)
        loss.backward()
        opt.step()
        return loss

    for i in range(WARMUP):
        step(i)
    dist.barrier()
    times = []
    for i in range(STEPS):
        t0 = time.perf_counter()
        loss = step(WARMUP + i)
        times.append(time.perf_counter() - t0)
    t = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    if not torch.isfinite(loss).item():
        print(f"rank {rank}: non-finite loss {loss.item()}", file=sys.stderr)
    if rank == 0:
        median_s = statistics.median(t.tolist())
        import fbgemm_gpu

        print(
            json.dumps(
                {
                    "tool": "torchrec",
                    "peer": f"torchrec {torchrec.__version__} / torch {torch.__version__}"
                    f" / fbgemm_gpu {fbgemm_gpu.__version__}",
                    "world_size": args.world_size,
                    "ms_per_step": round(median_s * 1e3, 3),
                    "samples_per_s": round(args.batch / median_s, 1),
                    "batch": args.batch,
                    "tables": args.tables,
                    "rows": args.rows,
                    "dim": args.dim,
                    "threads": args.threads,
                    "optimizer": args.optimizer,
                    "sharding": sharding_counts,
                    "final_loss": round(loss.item(), 5),
                }
            ),
            flush=True,
        )
    dist.barrier()
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--world-size", type=int, default=1)
    p.add_argument("--tables", type=int, default=26)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--optimizer", choices=["sgd", "rowwise_adagrad"], default="sgd")
    p.add_argument(
        "--sharding",
        choices=["auto", "table_wise", "column_wise", "table_column_wise", "data_parallel"],
        default="auto",
        help="auto: whatever TorchRec's planner picks for a CPU topology",
    )
    args = p.parse_args()
    if args.batch % args.world_size:
        p.error("--batch must be divisible by --world-size")
    mp.spawn(worker, args=(args, free_port()), nprocs=args.world_size, join=True)


if __name__ == "__main__":
    main()
