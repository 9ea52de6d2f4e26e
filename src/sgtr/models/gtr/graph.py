"""Graph construction for GTR: which pixels become nodes, which node is each subgraph's root, and the
intra-subgraph edges. No parameters, and no gradients through the choices: the graph is a set of indices chosen from
the host's *predicted* maps, the same way in training and at test time (ground truth never enters).

For every order index t there is one subgraph of exactly ``nodes`` (K_n) pixels, so a batch is a dense
(B, T, K_n) index tensor and every step below is one batched tensor operation:

* score s_t(p) = A_t(p) · (1 − P_bg(p)): where step t looks, weighted by how much it looks like a character there.
  A step whose foreground mass Σ_p s_t(p) is below one half reads mostly background (EOS, or a step after it); its
  s_t is near zero everywhere and its top pixels would be noise, so it falls back to the top pixels of A_t itself.
* nodes: the top-K_n pixels of that score; root: the node with the largest s_t (the character's peak).
* edges: each node links to its ``neighbours`` nearest nodes of the same subgraph under
  d(p, q) = ‖u_p − u_q‖ / max(H', W') · (1 + 1e-4 − cos(a_p, a_q)), u = pixel coordinates, a = the class-probability
  vector at the pixel; symmetrised, with self-loops. The cosine is taken on the probabilities rather than on the
  learned semantic embedding (the spec's "semantic part"): the choice of neighbours carries no gradient either way,
  and probabilities make the graph a function of the maps alone, stable from the first step of training. Equal
  distances go to the lower node index, so the edges are the same on every device and runtime. (Pixels with exactly
  equal scores, as a flat background gives, are chosen by ``topk``, which may pick differently among equals on
  another device or in ONNX Runtime.)
* valid: steps up to and including the first background-reading step, i.e. the predicted characters and EOS.

The root chain (root t ↔ root t+1) is not stored: it is implied by the roots and applied by ``conv.Adjacency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

EOS_MASS = 0.5  # a step whose foreground mass is below this reads background: EOS, or a step after it


@dataclass
class Graph:
    """One subgraph per order index, batched. ``nodes`` (B, T, K_n) flat pixel indices into H'×W', in decreasing
    selection score; ``roots`` (B, T) index of the root within its subgraph's nodes; ``edges`` (B, T, K_n, K_n) bool
    symmetric intra-subgraph adjacency with self-loops; ``valid`` (B, T) bool; ``xy`` (B, T, K_n, 2) node coordinates
    (x, y) normalised to [0, 1]; ``classes`` (B, T, K_n, K) the class probabilities at the nodes (differentiable)."""

    nodes: Tensor
    roots: Tensor
    edges: Tensor
    valid: Tensor
    xy: Tensor
    classes: Tensor


def gather_nodes(maps: Tensor, nodes: Tensor) -> Tensor:
    """(B, C, H', W') maps at (B, T, n) flat pixel indices → (B, T, n, C)."""
    b, c = maps.shape[:2]
    steps, n = nodes.shape[1:]
    flat = maps.flatten(2).gather(-1, nodes.flatten(1)[:, None].expand(-1, c, -1))  # (B, C, T·n)
    return flat.transpose(1, 2).reshape(b, steps, n, c)


def knn_edges(distance: Tensor, k: int) -> Tensor:
    """(..., n, n) pairwise distances → (..., n, n) bool adjacency: each node to its ``k`` nearest others (lower index
    first among ties), symmetrised, self-loops added.

    ``k`` rounds of ``argmin``, each taking every node's nearest remaining other and ruling it out: ``argmin``
    returns the first of equal minima, so ties go to the lower index, the same on every device and in ONNX (which
    has no stable sort). k·n² work instead of the n³ of counting ranks."""
    n = distance.shape[-1]
    index = torch.arange(n, device=distance.device)
    eye = index[:, None] == index
    d = distance.masked_fill(eye, torch.inf)
    edges = torch.zeros(d.shape, dtype=torch.bool, device=d.device)
    for _ in range(min(k, n - 1)):
        nearest = d.argmin(dim=-1, keepdim=True) == index  # (..., n, n): row i's nearest remaining node
        edges = edges | nearest
        d = d.masked_fill(nearest, torch.inf)
    return edges | edges.transpose(-1, -2) | eye


def cosine_similarity(x: Tensor) -> Tensor:
    """(..., n, d) → (..., n, n) pairwise cosine similarity (a zero vector is orthogonal to everything). The norms
    come from the Gram matrix's diagonal: one small matmul instead of a reduction over d, ~2× faster on the CPU."""
    gram = x @ x.transpose(-1, -2)
    norm = gram.diagonal(dim1=-2, dim2=-1).clamp_min(1e-16).sqrt()
    return gram / (norm[..., :, None] * norm[..., None, :])


def build_graph(probs: Tensor, order_maps: Tensor, nodes: int = 16, neighbours: int = 3) -> Graph:
    """``probs`` (B, K, H', W') segmentation probabilities, class 0 background; ``order_maps`` (B, T, H', W'), each
    summing to 1. See the module docstring; ``Graph.classes`` keeps the gradient path to ``probs``."""
    b, _, h, w = order_maps.shape
    if probs.shape[-2:] != (h, w) or len(probs) != b:
        raise ValueError(f"segmentation {tuple(probs.shape)} and order maps {tuple(order_maps.shape)} must share the "
                         "batch and the map size")
    if nodes > h * w:
        raise ValueError(f"{nodes} nodes per subgraph, but the maps have only {h * w} pixels")
    with torch.no_grad():
        attention, foreground = order_maps.float().flatten(2), 1 - probs.float().flatten(2)[:, :1]  # (B,T,P), (B,1,P)
        score = attention * foreground
        background = score.sum(dim=-1) < EOS_MASS  # (B, T)
        # Background steps rank by A_t instead: lerp with a 0/1 weight picks either tensor exactly, in place (the
        # (B, T, P) tensors are the largest GTR touches; one pass fewer than ``where`` is measurable on the CPU).
        index = score.lerp_(attention, background[..., None].float()).topk(nodes, dim=-1).indices  # (B, T, n)
        roots = (attention.gather(-1, index) * foreground.expand_as(attention).gather(-1, index)).argmax(dim=-1)
        flags = background.long()  # (ONNX CumSum takes no bool)
        valid = (flags.cumsum(dim=1) - flags) == 0  # no background step strictly before t
    classes = gather_nodes(probs, index)
    with torch.no_grad():
        xy = torch.stack((index % w, index // w), dim=-1).float()  # (B, T, n, 2) in pixels
        distance = torch.cdist(xy, xy) / max(h, w) * (1 + 1e-4 - cosine_similarity(classes.float()))
        edges = knn_edges(distance, neighbours)
        xy /= torch.tensor([max(w - 1, 1), max(h - 1, 1)], dtype=xy.dtype, device=xy.device)
    return Graph(index, roots, edges, valid, xy, classes)
