"""Message passing over GTR's graph in block form: the normalised adjacency and the graph convolution layer.

GTR's adjacency is block-diagonal — T subgraphs of n nodes each — plus the root chain (root t ↔ root t+1). It is kept
as (B, T, n, n) intra-subgraph blocks and a (B, T, T) tridiagonal matrix of root-link weights instead of one dense
(B, N, N) matrix, N = T·n: aggregating is a batched n×n matmul per subgraph plus a T×T matmul over the roots'
features, added at the roots — B·T·n²·d multiply-adds instead of B·N²·d, T = 26 times fewer. PyTorch Geometric's
dense layers take only the dense matrix (the chain crosses the blocks), so the layer is written here; measured with
``benchmarks/gtr_cost.py --adjacency`` (one layer, forward + backward, batch 32, one thread), this ``GraphConv``
(which also batch-normalises and has two linears) against PyG's ``DenseGCNConv`` on the assembled dense matrix:
2.4 vs 4.9 ms at n = 6, width 24 (N = 156) and 17 vs 45 ms at the spec's n = 16, width 64 (N = 416), and the dense
matrix costs B·N² floats of memory (22 MB at N = 416, batch 32) against B·T·n². ``Adjacency.dense`` assembles it
only for tests and drawings.

Normalisation is the symmetric GCN one, Ã = D^{-1/2} A D^{-1/2} with A holding the self-loops, where a root's degree
also counts its chain links; ``GraphConv`` is the spec's mean-aggregation "linkage" layer,
h' = ReLU([h ‖ Ã h] W + b) on affine-free batch-normalised h, computed as h W_self + Ã (h W_neighbour) + b: the same
function (Ã is linear), but it aggregates ``out`` channels instead of ``in`` and needs no concatenation.

Filler subgraphs — the steps after the first background-reading one (``Graph.valid`` false) — stay in the tensors, so
that every batch is one dense shape, but they take no part in what real characters compute: the root chain links
t ↔ t+1 only where both steps are valid, and the batch normalisation takes its statistics (and running statistics)
over the nodes of valid subgraphs only. A word's output therefore does not depend on how many filler steps follow it
or on what they look at, and a batch of short words does not pull the statistics towards background pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Adjacency:
    """``blocks`` (B, T, n, n) normalised intra-subgraph weights; ``roots`` (B, T); ``chain`` (B, T, T) the root
    links' weights (tridiagonal, zero diagonal), or None when subgraphs are not chained; ``flat_roots`` (B·T,) the
    roots as row indices of the (B·T·n, d) flattened node features; ``valid`` (B, T) bool, the real subgraphs, or
    None when all are."""

    blocks: Tensor
    roots: Tensor
    chain: Tensor | None
    flat_roots: Tensor
    valid: Tensor | None = None

    @classmethod
    def normalise(cls, edges: Tensor, roots: Tensor, chain: bool, valid: Tensor | None = None) -> "Adjacency":
        """From (B, T, n, n) bool edges (self-loops included), (B, T) roots and optionally (B, T) valid steps (links
        to an invalid step are dropped)."""
        a = edges.float()
        degree = a.sum(dim=-1)  # (B, T, n)
        if chain:
            if valid is None:
                pair = a.new_ones(roots.shape[0], roots.shape[1] - 1)
            else:
                pair = (valid[:, :-1] & valid[:, 1:]).float()  # (B, T − 1): is link t ↔ t+1 there
            links = F.pad(pair, (0, 1)) + F.pad(pair, (1, 0))  # (B, T): each root's number of links
            degree = degree.scatter_add(-1, roots[..., None], links[..., None])
        inv = degree.rsqrt()
        blocks = a * inv[..., :, None] * inv[..., None, :]
        n = a.shape[-1]
        flat_roots = torch.arange(roots.numel(), device=roots.device) * n + roots.flatten()
        if not chain:
            return cls(blocks, roots, None, flat_roots, valid)
        root_inv = inv.flatten().index_select(0, flat_roots).view_as(roots)
        weight = F.pad(root_inv[:, :-1] * root_inv[:, 1:] * pair, (0, 1))  # (B, T): link t ↔ t+1, none after the last
        t = torch.arange(roots.shape[1], device=roots.device)
        links = (t[:, None] + 1 == t) * weight[:, :, None]  # (B, T, T), entry (t, t+1)
        return cls(blocks, roots, links + links.transpose(1, 2), flat_roots, valid)

    def aggregate(self, h: Tensor) -> Tensor:
        """Ã h for node features (B, T, n, d)."""
        out = self.blocks @ h
        if self.chain is None:
            return out
        b, steps, n, d = h.shape
        root_h = h.reshape(-1, d).index_select(0, self.flat_roots).view(b, steps, d)
        messages = self.chain @ root_h  # root t hears roots t−1 and t+1
        return out.view(-1, d).index_add_(0, self.flat_roots, messages.view(-1, d)).view(b, steps, n, d)

    def dense(self) -> Tensor:
        """The same operator as a dense (B, N, N) matrix over N = T·n nodes, subgraph-major."""
        b, steps, n, _ = self.blocks.shape
        out = torch.zeros(b, steps, n, steps, n, dtype=self.blocks.dtype, device=self.blocks.device)
        t = torch.arange(steps, device=out.device)
        out[:, t, :, t] = self.blocks.transpose(0, 1)
        if self.chain is not None:
            bi, r = torch.arange(b, device=out.device)[:, None, None], self.roots
            out[bi, t[:, None], r[:, :, None], t, r[:, None, :]] += self.chain
        return out.view(b, steps * n, steps * n)


def masked_batch_norm(h: Tensor, norm: nn.BatchNorm1d, valid: Tensor | None) -> Tensor:
    """``norm`` (affine-free) on (B, T, n, d) node features in training mode, its statistics — and its running
    statistics, updated as ``BatchNorm1d`` does — taken over the nodes of the ``valid`` (B, T) subgraphs only."""
    if valid is None:
        return norm(h.flatten(0, 2)).view_as(h)
    real = h[valid]  # (V, n, d): the valid subgraphs' nodes
    count = real.shape[0] * real.shape[1]
    flat = real.flatten(0, 1)
    # Two means, not torch.var_mean: on the CPU its reduction over dim 0 is several times slower (a third of a
    # plugged training step).
    mean = flat.mean(0)
    var = (flat - mean).square().mean(0)
    with torch.no_grad():
        norm.num_batches_tracked += 1
        momentum = norm.momentum if norm.momentum is not None else 1 / norm.num_batches_tracked.item()
        norm.running_mean.lerp_(mean.detach().to(norm.running_mean.dtype), momentum)
        unbiased = var.detach() * (count / max(count - 1, 1))
        norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), momentum)
    return (h - mean) * torch.rsqrt(var + norm.eps)


class GraphConv(nn.Module):
    """(B, T, n, in) node features → (B, T, n, out): ReLU([h ‖ Ã h] W + b), h batch-normalised without affine over the
    adjacency's valid subgraphs (``masked_batch_norm``)."""

    def __init__(self, in_width: int, out_width: int, act: bool = True):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_width, affine=False)
        self.own = nn.Linear(in_width, out_width)
        # No bias on the aggregated half: Ã's rows do not sum to 1, so it would be rescaled per node.
        self.neighbour = nn.Linear(in_width, out_width, bias=False)
        self.act = act

    def forward(self, h: Tensor, adjacency: Adjacency) -> Tensor:
        # Both halves in one matmul: [W_self; W_neighbour] stacked on the output axis, split after.
        weight = torch.cat((self.own.weight, self.neighbour.weight))
        bias = F.pad(self.own.bias, (0, self.neighbour.out_features))
        if self.training:
            h = masked_batch_norm(h, self.norm, adjacency.valid)
        else:
            # The running statistics folded into the weights (x − μ)·s W = x (sW) − (μs) W: one pass over the nodes
            # fewer, and no batch_norm op, whose ONNX export needs a static channel count that the traced node
            # tensors (sizes from topk and gathers) do not carry.
            scale = torch.rsqrt(self.norm.running_var + self.norm.eps)
            weight = weight * scale
            bias = bias - weight @ self.norm.running_mean
        both = F.linear(h, weight, bias)
        own, neighbour = both.split(self.own.out_features, dim=-1)
        out = own + adjacency.aggregate(neighbour.contiguous())
        return out.relu_() if self.act else out
