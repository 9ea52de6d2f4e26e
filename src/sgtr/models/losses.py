"""Every training loss of sgtr's recognizers, beside the models rather than inside one of them.

All take ``Targets.ids`` (B, T): the label's token ids, one EOS (0), then ``PAD_ID`` (-100) padding.

* ``sequence_loss``: cross-entropy of step logits (B, T, K) over the valid steps (characters and EOS) — the attention
  hosts' ``ce``, S-GTR's ``lm``/``gtr``/``fused``, the plug-in's ``gtr``/``fused``/``slots``/``seg_seq``;
  ``sequence_nll`` is the same on log-probabilities that need no softmax (the VR's ``seq``, on log P_V).
* ``branch_losses``: ``sequence_loss`` of several named branches, weighted (SRN, ABINet).
* ``ctc_loss``: CTC (blank 0) of frame logits (B, F, K) (CRNN).
* ``mutual_kl``: the symmetric KL of deep mutual learning between two branches (S-GTR, the plug-in).
* ``mask_losses``: the character-mask losses ``seg`` and ``order`` (the VR, the plug-in) and ``text_mask`` (the VR's
  optional text-mask branch), from ``area_counts``, ``class_targets``, ``order_targets`` and ``text_targets``.

Mask losses in detail. ``seg`` is a soft pixel cross-entropy of the segmentation logits G (B, K, H', W') against the
class map; ``order`` is KL(GT order distribution ‖ A_t) of the log order maps. Both use only samples with masks (real
data has none). Masks are downsampled by *area*: each H'×W' cell gets the fraction of its input pixels that belong to
each character, so thin glyphs keep soft evidence instead of vanishing under nearest-neighbour sampling. The class
target of a cell is the area-weighted mix of its characters' classes; the order target of step t is character t's
area map normalised over pixels. The EOS step's target is the background area normalised, so that a VR's reading at
EOS is pulled towards class 0 even without the ``seq`` loss; steps after EOS are excluded. KL differs from the soft
cross-entropy only by the target's entropy, a constant, so gradients are the same and the logged value goes to 0 at
the optimum. ``text_mask`` (when a binary text-mask logit map is given) is the binary cross-entropy of each cell's
text probability against its area fraction covered by any character: the union of the character masks, pooled alike.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from sgtr.data.batching import Targets
from sgtr.data.charset import PAD_ID


def sequence_loss(logits: Tensor, ids: Tensor) -> Tensor:
    """Cross-entropy over the valid steps (characters and EOS); ``PAD_ID`` steps are ignored."""
    return F.cross_entropy(logits.flatten(0, 1).float(), ids.flatten(), ignore_index=PAD_ID)


def sequence_nll(log_probs: Tensor, ids: Tensor) -> Tensor:
    """Negative log-likelihood of (B, T, K) log-probabilities over the valid steps, without renormalising them."""
    return F.nll_loss(log_probs.flatten(0, 1), ids.flatten(), ignore_index=PAD_ID)


def branch_losses(branches: Mapping[str, Tensor | Sequence[Tensor]], ids: Tensor, weights: Mapping[str, float]
                  ) -> tuple[dict[str, Tensor], Tensor]:
    """Sequence cross-entropy of every weighted branch and their weighted sum. A branch given as several logits (one
    per refinement iteration) scores the mean of their losses."""
    losses = {}
    for name in weights:
        logits = branches[name]
        logits = [logits] if isinstance(logits, Tensor) else logits
        losses[name] = sum(sequence_loss(x, ids) for x in logits) / len(logits)
    return losses, sum(weights[name] * loss for name, loss in losses.items())


def ctc_loss(logits: Tensor, ids: Tensor) -> Tensor:
    """CTC loss (blank 0, averaged over the batch of per-label-length losses) of frame logits (B, F, K): the label is
    the ids before EOS, without the padding. Labels too long for the frames (repeats need a blank between them) give
    zero loss instead of infinity."""
    labels = ids > 0
    log_probs = logits.float().log_softmax(dim=-1).transpose(0, 1)  # (F, B, K), as ctc_loss wants
    frames = torch.full((len(ids),), logits.shape[1], dtype=torch.long, device=ids.device)
    return F.ctc_loss(log_probs, ids[labels], frames, labels.sum(dim=1), blank=0, zero_infinity=True)


def mutual_kl(a: Tensor, b: Tensor, ids: Tensor) -> Tensor:
    """Symmetric KL between the per-step distributions of logits ``a`` and ``b`` (B, T, K), averaged over the valid
    steps of ``ids``; each direction detaches its target, so each branch only learns from the other."""
    log_a, log_b = a.float().log_softmax(dim=-1), b.float().log_softmax(dim=-1)
    target_a, target_b = log_a.detach(), log_b.detach()
    kl = (target_a.exp() * (target_a - log_b)).sum(dim=-1) + (target_b.exp() * (target_b - log_a)).sum(dim=-1)
    valid = ids != PAD_ID
    return kl[valid].sum() / valid.sum().clamp_min(1)


def mask_losses(seg_logits: Tensor, log_order: Tensor | None, targets: Targets, text_logits: Tensor | None = None
                ) -> dict[str, Tensor]:
    """The mask-supervised losses of the module docstring, over the samples that carry a mask: ``seg`` for the
    segmentation logits (B, K, H', W'), ``order`` when ``log_order`` (B, T, H', W') is given, and ``text_mask`` when
    ``text_logits`` (B, 1, H', W'), the binary text-mask branch's logits on the same grid, are given. Empty when the
    batch has no masks."""
    if targets.masks is None:
        return {}
    ids, has_mask = targets.ids, targets.has_mask
    if has_mask is None:
        has_mask = torch.ones(len(ids), dtype=torch.bool, device=ids.device)
    if not bool(has_mask.any()):
        return {}
    ids, seg_logits = ids[has_mask], seg_logits[has_mask]
    counts = area_counts(targets.masks[has_mask], ids.shape[1] + 1, seg_logits.shape[-2:])
    seg_target = class_targets(counts, ids, seg_logits.shape[1])
    losses = {"seg": -(seg_target * seg_logits.flatten(2).log_softmax(dim=1)).sum(dim=1).mean()}
    if log_order is not None:
        order_target, valid = order_targets(counts, ids)
        kl = (torch.xlogy(order_target, order_target) - order_target * log_order[has_mask].flatten(2)).sum(dim=-1)
        losses["order"] = kl[valid].sum() / valid.sum().clamp_min(1)
    if text_logits is not None:
        losses["text_mask"] = F.binary_cross_entropy_with_logits(text_logits[has_mask].flatten(1).float(),
                                                                 text_targets(counts))
    return losses


def area_counts(masks: Tensor, instances: int, size: tuple[int, int]) -> Tensor:
    """(B, H, W) instance map (values < ``instances``) → (B, instances, h·w): how many input pixels of each instance
    fall into each cell of an h×w grid. Row/column r maps to cell r·h // H, which is exact area pooling when H is a
    multiple of h. One flat 1-D ``scatter_add_``, which CUDA also runs under deterministic mode."""
    low, high = torch.stack(torch.aminmax(masks)).tolist() if masks.numel() else (0, 0)
    if low < 0 or high >= instances:
        raise ValueError(f"mask values must lie in [0, {instances - 1}], got [{low}, {high}]")
    b, height, width = masks.shape
    h, w = size
    rows = torch.arange(height, device=masks.device) * h // height
    cols = torch.arange(width, device=masks.device) * w // width
    cell = (rows[:, None] * w + cols[None, :]).flatten()
    sample = torch.arange(b, device=masks.device)[:, None] * (instances * h * w)
    index = (sample + masks.flatten(1).long() * (h * w) + cell).flatten()
    counts = torch.zeros(b * instances * h * w, device=masks.device)
    counts.scatter_add_(0, index, torch.ones_like(index, dtype=counts.dtype))
    return counts.view(b, instances, h * w)


def class_targets(counts: Tensor, ids: Tensor, num_classes: int) -> Tensor:
    """(B, K, P) soft class map: each cell's area fractions moved from instances (0 = background, t+1 = token t) to
    the token's class."""
    classes = F.pad(ids.clamp_min(0), (1, 0))[:, : counts.shape[1]]  # instance i → class; PAD and background → 0
    target = torch.einsum("bip,bik->bkp", counts, F.one_hot(classes, num_classes).to(counts.dtype))
    return target / counts.sum(dim=1, keepdim=True).clamp_min(1)


def order_targets(counts: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, P) GT order distributions and (B, T) validity: step t is character t's area map normalised; the EOS
    step is the background's. Steps after EOS, and characters with no pixels (e.g. spaces), are invalid."""
    steps = torch.arange(ids.shape[1], device=ids.device)
    instance = torch.where(ids > 0, steps + 1, 0)
    mass = counts.gather(1, instance[:, :, None].expand(-1, -1, counts.shape[-1]))
    total = mass.sum(dim=-1)
    return mass / total.clamp_min(1)[..., None], (ids != PAD_ID) & (total > 0)


def text_targets(counts: Tensor) -> Tensor:
    """(B, P) share of each cell's input pixels that belong to any character (instance > 0)."""
    return 1 - counts[:, 0] / counts.sum(dim=1).clamp_min(1)
