"""The contract every recognizer in sgtr honours: what goes in (``Targets``) and what comes out (``RecognizerOutput``).

``Targets`` is defined with the batches that carry it (``sgtr.data.batching``) and is importable from here too.

GTR, the training engine, evaluation, ``sgtr read`` and export all rely on this one shape, so a host recognizer
(CRNN, TRBA, SRN, PREN, ABINet, the segmentation VR) plugs into any of them without special cases.

Vocabulary (see ``sgtr.data.charset``): K = ``charset.num_classes`` classes, class 0 is EOS, segmentation
background and CTC blank at once; T = ``charset.max_steps`` decoding steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from sgtr.data.batching import Targets

__all__ = ["RecognizerOutput", "Targets"]


@dataclass
class RecognizerOutput:
    """What a recognizer's ``forward(images, targets=None)`` returns.

    ``logits``: (B, T, K) the final prediction, one row per decoding step (or per CTC frame when ``ctc`` is true).
    ``branches``: named per-branch logits beside the final one, each (B, T, K): e.g. ``vr``, ``lm``, ``gtr``, ``fused``.
    ``seg_logits``: (B, K, H', W') character segmentation logits, for models that segment.
    ``order_maps``: (B, T, H', W') reading-order or attention maps, each summing to 1 over the pixels.
    ``features``: (B, D, H', W') the visual feature map GTR builds node features from.
    ``extras``: anything else worth showing, keyed by name. GTR's graph (for drawing; H'×W' is the maps' size,
    K_n the nodes per character): ``gtr_nodes`` (B, T, K_n) long, flat pixel indices into H'×W' (row-major,
    ``y · W' + x``) of each character's nodes; ``gtr_roots`` (B, T) long, the index 0..K_n−1 of each subgraph's root
    within its nodes (with the root chain on, consecutive steps' roots are linked); ``gtr_edges`` (B, T, K_n, K_n)
    bool, the symmetric intra-subgraph adjacency the graph was built with (self-loops on the diagonal; before the
    adjacency update); ``gtr_valid`` (B, T) bool, the steps up to and including the predicted EOS. S-GTR with gated
    fusion adds ``fusion_gate`` (B, T) float, the gate's mean over channels: the weight of the language model at each
    step (1 − it is GTR's).
    ``losses``: named scalar losses, filled only when targets were given; ``loss`` is their weighted total.
    """

    logits: Tensor
    ctc: bool = False
    branches: dict[str, Tensor] = field(default_factory=dict)
    seg_logits: Tensor | None = None
    order_maps: Tensor | None = None
    features: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
    losses: dict[str, Tensor] = field(default_factory=dict)
    loss: Tensor | None = None
