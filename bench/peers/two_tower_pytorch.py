"""The PyTorch reference of Cascade's two-tower retrieval model: a training-step benchmark on
random batches (--mode speed) and a train-and-evaluate run on a Cascade dataset folder
(--mode quality). Prints one JSON line.

The model (the contract the Rust side matches):
  * each tower has one nn.EmbeddingBag per feature, mode "sum" for single-id features and "mean"
    for multi-hot ones; index 0 (missing/unknown) is a real, trained row; tables are initialised
    uniform(-sqrt(1/rows), sqrt(1/rows)) (TorchRec's default);
  * the tower's pooled embeddings are concatenated in flag order and go through an MLP: Linear
    layers of the --tower widths with ReLU between them and none after the last (nn.Linear's
    default initialisation);
  * score(u, i) = <user(u), item(i)> / temperature, with both outputs L2-normalised first under
    --cosine.
Losses:
  * bce: BCEWithLogits of score(u, i) against the 0/1 `label` of the row (training rows of the
    train split with either label);
  * softmax: in-batch sampled softmax over every training row (any label). For a batch of B rows,
    logit[i, j] = score(u_i, item_j) - ln q(item_j), where q(item) = the item's count in the train
    split / the train split's rows (the logQ correction); logit[i, j] = -inf where item_j == item_i
    and j != i (accidental hits); cross-entropy with target j = i, averaged over the batch.
Optimizers: the embedding tables take row-wise Adagrad (TorchRec's: per row r, state[r] +=
mean(g_r ** 2), w_r -= lr * g_r / (sqrt(state[r]) + 1e-8), on the coalesced sparse gradient of
the touched rows; state starts at 0), the dense layers Adam (betas 0.9/0.999, eps 1e-8).

Defaults shared by both modes: --temperature 0.05, --cosine on (--no-cosine for the plain dot
product), --emb-lr 0.05 (row-wise Adagrad), --dense-lr 0.001 (Adam), --threads 2, --seed 0.

--mode speed (defaults --tower 64,64 --batch 4096 --loss softmax; the shape flags are --users 6040
--items 3706 --dim 64): user tower = user_id table (--users + 1 rows, ids uniform in 1..users) ->
MLP, item tower = item_id table (--items + 1 rows) -> MLP; 8 random batches are generated before
timing, 5 warm-up steps, then the median of 30 timed steps (forward, loss, backward, update).
q(item) for the softmax comes from the item counts over those 8 batches.

--mode quality (defaults --tower 128,64 --batch 256 --epochs 10 and the MovieLens feature lists
user_id:64,user_age:16,user_gender:8,user_occupation:16,user_zip:16 and
item_id:64,item_genres:16,item_year:8, each name:dim): trains on the `train` split of a Cascade
dataset folder (cascade.json + MDS shards), then evaluates retrieval on the `test` split. A user's
(item's) side features are those of the first row it appears in, train split first, then test;
training looks features up by id through those tables, as evaluation does. Training shuffles the
training rows each epoch (numpy RandomState(seed)); the last, partial batch of an epoch is kept.
Evaluation: for every user with test rows, every item of the corpus (the item indices
1..cardinality-1 that appear in either split) is scored, the user's train items are excluded, and
the top 100 are kept; with R the set of the user's test items, Recall@K = |top K & R| / |R|,
HitRate@K = [top K & R non-empty], NDCG@K = sum over hits at rank r (1-based) of 1/log2(r + 1),
over the same sum for ranks 1..min(|R|, K); K = 10, 50, 100, averaged over users. The popularity
baseline ranks the corpus by train-split count (ties: lower index first) with the same exclusion
and metrics.
"""

import argparse
import json
import math
import os
import resource
import time

import numpy as np
import torch
from torch import nn

from rowwise_adagrad import RowwiseAdagrad


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Tower(nn.Module):
    """features: list of (name, rows, dim, multi_hot); inputs: {name: (ids, offsets)}."""

    def __init__(self, features, widths):
        super().__init__()
        self.names = [f[0] for f in features]
        self.bags = nn.ModuleDict()
        for name, rows, dim, multi_hot in features:
            bag = nn.EmbeddingBag(rows, dim, mode="mean" if multi_hot else "sum", sparse=True)
            bound = math.sqrt(1.0 / rows)
            nn.init.uniform_(bag.weight, -bound, bound)
            self.bags[name] = bag
        self.mlp = mlp([sum(f[2] for f in features)] + widths)

    def forward(self, inputs):
        pooled = [self.bags[n](*inputs[n]) for n in self.names]
        return self.mlp(torch.cat(pooled, dim=1))


class TwoTower(nn.Module):
    def __init__(self, user_features, item_features, widths, cosine, temperature):
        super().__init__()
        self.user = Tower(user_features, widths)
        self.item = Tower(item_features, widths)
        self.cosine = cosine
        self.temperature = temperature

    def embed(self, tower, inputs):
        out = tower(inputs)
        return nn.functional.normalize(out, dim=1) if self.cosine else out

    def loss(self, loss, user_inputs, item_inputs, labels=None, items=None, log_q=None):
        u = self.embed(self.user, user_inputs)
        v = self.embed(self.item, item_inputs)
        if loss == "bce":
            scores = (u * v).sum(dim=1) / self.temperature
            return nn.functional.binary_cross_entropy_with_logits(scores, labels)
        logits = u @ v.t() / self.temperature - log_q.unsqueeze(0)
        same = items.unsqueeze(0) == items.unsqueeze(1)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
        target = torch.arange(len(items))
        return nn.functional.cross_entropy(logits, target)


def optimizers(model, args):
    bags = list(model.user.bags.values()) + list(model.item.bags.values())
    dense = list(model.user.mlp.parameters()) + list(model.item.mlp.parameters())
    adam = torch.optim.Adam(dense, lr=args.dense_lr, betas=(0.9, 0.999), eps=1e-8)
    return adam, RowwiseAdagrad(bags, args.emb_lr, 1e-8)


def train_step(model, adam, rowwise, loss_name, batch):
    adam.zero_grad(set_to_none=True)
    rowwise.zero_grad()
    loss = model.loss(loss_name, *batch)
    loss.backward()
    adam.step()
    rowwise.step()
    return loss.detach()


def single(ids):
    """(ids, offsets) of one-id bags."""
    return ids, torch.arange(len(ids))


def speed(args):
    widths = [int(w) for w in args.tower.split(",")]
    model = TwoTower([("user_id", args.users + 1, args.dim, False)],
                     [("item_id", args.items + 1, args.dim, False)],
                     widths, args.cosine, args.temperature)
    adam, rowwise = optimizers(model, args)
    gen = torch.Generator().manual_seed(1)
    raw = []
    for _ in range(8):
        users = torch.randint(1, args.users + 1, (args.batch,), generator=gen)
        items = torch.randint(1, args.items + 1, (args.batch,), generator=gen)
        labels = torch.randint(0, 2, (args.batch,), generator=gen).float()
        raw.append((users, items, labels))
    counts = torch.zeros(args.items + 1)
    for _, items, _ in raw:
        counts.index_add_(0, items, torch.ones(len(items)))
    log_q = torch.log(counts.clamp(min=1) / counts.sum())
    batches = [({"user_id": single(u)}, {"item_id": single(i)}, y, i, log_q[i])
               for u, i, y in raw]

    for i in range(args.warmup):
        train_step(model, adam, rowwise, args.loss, batches[i % len(batches)])
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        train_step(model, adam, rowwise, args.loss, batches[i % len(batches)])
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "tool": "pytorch",
        "peer": f"pytorch {torch.__version__}",
        "mode": "speed",
        "ms_per_step": median * 1e3,
        "min_ms_per_step": times[0] * 1e3,
        "samples_per_s": args.batch / median,
        "batch": args.batch,
        "loss": args.loss,
        "users": args.users,
        "items": args.items,
        "dim": args.dim,
        "tower": widths,
        "threads": args.threads,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


def read_split(folder):
    """Every column of an MDS split as numpy arrays; multi-hot columns as (values, offsets)."""
    from streaming import StreamingDataset

    ds = StreamingDataset(local=folder, shuffle=False, batch_size=1)
    rows = [ds[i] for i in range(len(ds))]
    cols = {}
    for name, value in rows[0].items():
        if isinstance(value, np.ndarray):
            lengths = np.array([len(r[name]) for r in rows], dtype=np.int64)
            values = np.concatenate([np.asarray(r[name], dtype=np.int64) for r in rows])
            cols[name] = (values, np.concatenate([[0], np.cumsum(lengths)]))
        else:
            cols[name] = np.array([r[name] for r in rows])
    return cols


def parse_features(spec, meta):
    out = []
    for part in spec.split(","):
        name, dim = part.split(":")
        m = meta[name]
        out.append((name, m["column"], m["cardinality"], int(dim), bool(m["multi_hot"])))
    return out


def side_table(key, features, splits, cardinality):
    """For each id of column `key`, the features of its first row (train first, then test):
    {name: [list of feature ids, or None where the id appears in no row]}."""
    table = {name: [None] * cardinality for name, *_ in features}
    for cols in splits:
        keys = cols[key]
        for row in range(len(keys)):
            k = keys[row]
            if table[features[0][0]][k] is not None:
                continue
            for name, column, _, _, multi_hot in features:
                if multi_hot:
                    values, offsets = cols[column]
                    table[name][k] = values[offsets[row]:offsets[row + 1]].tolist()
                else:
                    table[name][k] = [int(cols[column][row])]
    return table


def pack(table, features, count):
    """A side table as per-feature flat id tensors with each entity's start and length, so that
    batches can be cut out fast: {name: (flat, starts, lengths)}."""
    packed = {}
    for name, *_ in features:
        # ids that appear in no row get the missing index 0; an empty multi-hot list stays
        # empty (its mean-pooled embedding is zero)
        lists = [[0] if table[name][i] is None else table[name][i] for i in range(count)]
        lengths = torch.tensor([len(x) for x in lists])
        flat = torch.tensor([v for x in lists for v in x], dtype=torch.long)
        starts = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
        packed[name] = (flat, starts, lengths)
    return packed


def lookup(packed, ids):
    inputs = {}
    for name, (flat, starts, lengths) in packed.items():
        if bool((lengths == 1).all()):
            inputs[name] = single(flat[ids])
            continue
        lens = lengths[ids]
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lens.cumsum(0)[:-1]])
        # positions into flat: start of each id repeated, plus the position inside its list
        rep = torch.repeat_interleave(starts[ids] - offsets, lens)
        inputs[name] = (flat[rep + torch.arange(int(lens.sum()))], offsets)
    return inputs


def metrics(top, test_sets, ks, prefix=""):
    out = {}
    for k in ks:
        recall = ndcg = hit = 0.0
        for row, wanted in zip(top, test_sets):
            got = row[:k]
            hits = [r for r, item in enumerate(got) if item in wanted]
            recall += len(hits) / len(wanted)
            hit += 1.0 if hits else 0.0
            dcg = sum(1.0 / math.log2(r + 2) for r in hits)
            idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(wanted), k)))
            ndcg += dcg / idcg
        n = len(test_sets)
        out[f"{prefix}recall@{k}"] = recall / n
        out[f"{prefix}ndcg@{k}"] = ndcg / n
        out[f"{prefix}hitrate@{k}"] = hit / n
    return out


def quality(args):
    torch.manual_seed(args.seed)
    with open(os.path.join(args.data, "cascade.json")) as f:
        meta_json = json.load(f)
    meta = {s["name"]: s for s in meta_json["sparse"]}
    user_feats = parse_features(args.user_features, meta)
    item_feats = parse_features(args.item_features, meta)
    user_col, item_col = user_feats[0][1], item_feats[0][1]
    train = read_split(os.path.join(args.data, meta_json["splits"]["train"]["path"]))
    test = read_split(os.path.join(args.data, meta_json["splits"]["test"]["path"]))
    n_users, n_items = meta[user_feats[0][0]]["cardinality"], meta[item_feats[0][0]]["cardinality"]
    users_packed = pack(side_table(user_col, user_feats, [train, test], n_users), user_feats,
                        n_users)
    items_packed = pack(side_table(item_col, item_feats, [train, test], n_items), item_feats,
                        n_items)

    train_users = torch.from_numpy(train[user_col].astype(np.int64))
    train_items = torch.from_numpy(train[item_col].astype(np.int64))
    train_labels = torch.from_numpy(train[meta_json["label"]].astype(np.float32))
    counts = torch.bincount(train_items, minlength=n_items).double()
    log_q = torch.log(counts.clamp(min=1) / len(train_items)).float()

    model = TwoTower([(n, rows, dim, mh) for n, _, rows, dim, mh in user_feats],
                     [(n, rows, dim, mh) for n, _, rows, dim, mh in item_feats],
                     [int(w) for w in args.tower.split(",")], args.cosine, args.temperature)
    adam, rowwise = optimizers(model, args)
    rng = np.random.RandomState(args.seed)
    rows_all = np.arange(len(train_users))  # both losses train on every row of the train split
    start = time.perf_counter()
    epoch_losses = []
    for _ in range(args.epochs):
        order = torch.from_numpy(rng.permutation(rows_all))
        total, steps = 0.0, 0
        for b in range(0, len(order), args.batch):
            idx = order[b:b + args.batch]
            u, i = train_users[idx], train_items[idx]
            batch = (lookup(users_packed, u), lookup(items_packed, i), train_labels[idx], i,
                     log_q[i])
            total += train_step(model, adam, rowwise, args.loss, batch).item()
            steps += 1
        epoch_losses.append(total / steps)
    train_seconds = time.perf_counter() - start

    # Evaluation.
    corpus = np.unique(np.concatenate([train[item_col], test[item_col]]))
    corpus = corpus[(corpus >= 1) & (corpus < n_items)]
    eval_users = np.unique(test[user_col])
    test_sets = [set() for _ in range(n_users)]
    for u, i in zip(test[user_col], test[item_col]):
        test_sets[u].add(int(i))
    excluded = torch.zeros(len(eval_users), len(corpus), dtype=torch.bool)
    pos = {int(item): c for c, item in enumerate(corpus)}
    slot = {int(u): r for r, u in enumerate(eval_users)}
    for u, i in zip(train[user_col], train[item_col]):
        if int(u) in slot and int(i) in pos:
            excluded[slot[int(u)], pos[int(i)]] = True
    corpus_t = torch.from_numpy(corpus.astype(np.int64))
    model.eval()
    with torch.no_grad():
        eval_users_t = torch.from_numpy(eval_users.astype(np.int64))
        uv = model.embed(model.user, lookup(users_packed, eval_users_t))
        iv = model.embed(model.item, lookup(items_packed, corpus_t))
        scores = (uv @ iv.t()).masked_fill(excluded, float("-inf"))
        top = corpus_t[scores.topk(100, dim=1).indices].tolist()
        pop = counts[corpus_t].float().unsqueeze(0).expand(len(eval_users), -1)
        pop = pop.masked_fill(excluded, float("-inf"))
        # stable sort: ties keep the lower item index first
        pop_top = corpus_t[torch.sort(pop, dim=1, descending=True, stable=True).indices[:, :100]]
        pop_top = pop_top.tolist()
    wanted = [test_sets[u] for u in eval_users]
    out = {"tool": "pytorch", "peer": f"pytorch {torch.__version__}", "mode": "quality",
           "loss": args.loss}
    out.update(metrics(top, wanted, (10, 50, 100)))
    out.update(metrics(pop_top, wanted, (10, 50, 100), prefix="popularity_"))
    out.update({
        "users_evaluated": len(eval_users),
        "corpus_items": len(corpus),
        "train_rows": len(train_users),
        "epoch_losses": epoch_losses,
        "train_seconds": train_seconds,
        "hyperparameters": {
            "user_features": args.user_features, "item_features": args.item_features,
            "tower": args.tower, "loss": args.loss, "temperature": args.temperature,
            "cosine": args.cosine, "epochs": args.epochs, "batch": args.batch,
            "emb_lr": args.emb_lr, "dense_lr": args.dense_lr, "seed": args.seed,
        },
        "threads": args.threads,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["speed", "quality"], default="speed")
    p.add_argument("--loss", choices=["bce", "softmax"], default="softmax")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--emb-lr", type=float, default=0.05)
    p.add_argument("--dense-lr", type=float, default=0.001)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--cosine", action=argparse.BooleanOptionalAction, default=True,
                   help="L2-normalise both tower outputs (default; --no-cosine for plain dot)")
    p.add_argument("--tower", default=None, help="MLP widths; default 64,64 (speed), 128,64")
    p.add_argument("--batch", type=int, default=None, help="default 4096 (speed), 256 (quality)")
    # speed
    p.add_argument("--users", type=int, default=6040)
    p.add_argument("--items", type=int, default=3706)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    # quality
    p.add_argument("--data")
    p.add_argument("--user-features",
                   default="user_id:64,user_age:16,user_gender:8,user_occupation:16,user_zip:16")
    p.add_argument("--item-features", default="item_id:64,item_genres:16,item_year:8")
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    is_speed = args.mode == "speed"
    if args.tower is None:
        args.tower = "64,64" if is_speed else "128,64"
    if args.batch is None:
        args.batch = 4096 if is_speed else 256
    torch.set_num_threads(args.threads)
    if is_speed:
        torch.manual_seed(args.seed)
        speed(args)
    else:
        if not args.data:
            p.error("--mode quality needs --data")
        quality(args)


if __name__ == "__main__":
    main()
