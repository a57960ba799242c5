"""The PyTorch side of bench/dlrm_vs_pytorch.sh: the reference DLRM, trained on random data.

Same architecture as facebookresearch/dlrm's defaults for this shape and as Cascade's
configs/dlrm_synthetic.toml: 13 dense features, one nn.EmbeddingBag(mode="sum", sparse=True) per
sparse feature, bottom MLP 13-512-256-64, pairwise dot interaction without self pairs, top MLP
415-512-256-1, BCE with logits, plain SGD on every parameter (sparse gradients for the tables).
The batches are generated before timing: the figure is the training step alone (forward, loss,
backward, update). Prints one JSON line.

Differences from facebookresearch/dlrm that do not change the work per step: the loss is
BCEWithLogitsLoss on the logit (the reference applies a sigmoid in the last top layer and then
BCELoss), and the dense weights use nn.Linear's default initialisation.

--optimizer rowwise_adagrad trains the tables with row-wise Adagrad (TorchRec's default: one
accumulator per row holding the running sum of the mean squared gradient), applied to the
coalesced sparse gradient, while the dense layers keep SGD, as on the Cascade side.

--precision bf16 runs the forward pass and the loss under torch.autocast("cpu",
dtype=torch.bfloat16), PyTorch's mixed precision on CPU: its linear layers and the
interaction's batched product multiply in bf16, the weights stay f32 (Cascade's bf16 runs only
its MLP products in bf16).
"""

import contextlib

import argparse
import json
import resource
import time

import torch
from torch import nn

from rowwise_adagrad import RowwiseAdagrad


def mlp(sizes, last_activation):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Dlrm(nn.Module):
    def __init__(self, num_dense, tables, rows, dim, bottom, top):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.EmbeddingBag(rows, dim, mode="sum", sparse=True) for _ in range(tables)
        )
        self.bottom = mlp([num_dense] + bottom, last_activation=True)
        features = tables + 1
        interactions = features * (features - 1) // 2
        self.top = mlp([dim + interactions] + top, last_activation=False)
        rows_idx, cols_idx = torch.tril_indices(features, features, offset=-1)
        self.register_buffer("li", rows_idx)
        self.register_buffer("lj", cols_idx)

    def forward(self, dense, ids, offsets):
        x = self.bottom(dense)
        pooled = [emb(ids[t], offsets[t]) for t, emb in enumerate(self.embeddings)]
        t = torch.stack([x] + pooled, dim=1)
        gram = torch.bmm(t, t.transpose(1, 2))
        z = torch.cat([x, gram[:, self.li, self.lj]], dim=1)
        return self.top(z).squeeze(1)


def make_batch(gen, args):
    dense = torch.randn(args.batch, args.dense, generator=gen)
    ids, offsets = [], []
    for _ in range(args.tables):
        if args.max_ids == 1:
            lengths = torch.ones(args.batch, dtype=torch.long)
        else:
            lengths = torch.randint(args.min_ids, args.max_ids + 1, (args.batch,), generator=gen)
        ids.append(torch.randint(0, args.rows, (int(lengths.sum()),), generator=gen))
        offsets.append(torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]]))
    labels = torch.randint(0, 2, (args.batch,), generator=gen).float()
    return dense, ids, offsets, labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dense", type=int, default=13)
    p.add_argument("--tables", type=int, default=26)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--min-ids", type=int, default=1)
    p.add_argument("--max-ids", type=int, default=1)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--optimizer", choices=["sgd", "rowwise_adagrad"], default="sgd")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Dlrm(args.dense, args.tables, args.rows, args.dim, [512, 256, args.dim], [512, 256, 1])
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        rowwise = None
    else:
        dense_params = [p for n, p in model.named_parameters() if not n.startswith("embeddings")]
        optimizer = torch.optim.SGD(dense_params, lr=args.lr)
        rowwise = RowwiseAdagrad(model.embeddings, args.lr, args.eps)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(1)
    batches = [make_batch(gen, args) for _ in range(8)]

    def autocast():
        if args.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(batch):
        dense, ids, offsets, labels = batch
        optimizer.zero_grad(set_to_none=True)
        if rowwise is not None:
            rowwise.zero_grad()
        with autocast():
            loss = loss_fn(model(dense, ids, offsets), labels)
        loss.backward()
        optimizer.step()
        if rowwise is not None:
            rowwise.step()

    for i in range(args.warmup):
        step(batches[i % len(batches)])
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        step(batches[i % len(batches)])
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "tool": "pytorch",
        "peer": f"pytorch {torch.__version__}",
        "ms_per_step": median * 1e3,
        "min_ms_per_step": times[0] * 1e3,
        "samples_per_s": args.batch / median,
        "batch": args.batch,
        "tables": args.tables,
        "ids_per_bag": [args.min_ids, args.max_ids],
        "optimizer": args.optimizer,
        "precision": args.precision,
        "threads": args.threads,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
