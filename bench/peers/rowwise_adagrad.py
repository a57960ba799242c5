"""Row-wise Adagrad for the PyTorch peers, as TorchRec applies it to embedding tables: one
accumulator per row holding the running sum of the mean squared gradient, updated from the
coalesced sparse gradient of the rows a step touched. Shared by bench/peers/dlrm_pytorch.py and
bench/peers/two_tower_pytorch.py (both run as scripts, so this folder is on their import path).
"""

import torch


class RowwiseAdagrad:
    """Row-wise Adagrad on the sparse gradients of embedding bags: for each touched row r,
    state[r] += mean(g_r ** 2) and w_r -= lr * g_r / (sqrt(state[r]) + eps)."""

    def __init__(self, bags, lr, eps):
        self.bags = list(bags)
        self.lr = lr
        self.eps = eps
        self.state = [torch.zeros(b.num_embeddings) for b in self.bags]

    def zero_grad(self):
        for b in self.bags:
            b.weight.grad = None

    @torch.no_grad()
    def step(self):
        for bag, state in zip(self.bags, self.state):
            if bag.weight.grad is None:
                continue
            grad = bag.weight.grad.coalesce()
            rows, values = grad.indices()[0], grad.values()
            state.index_add_(0, rows, values.pow(2).mean(dim=1))
            scale = -self.lr / (state[rows].sqrt() + self.eps)
            bag.weight.index_add_(0, rows, values * scale.unsqueeze(1))
