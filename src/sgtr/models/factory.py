"""``build_model``: one place that maps a model name to its constructor, for the engine, the CLI and export.

It sits above the models (they never import it). Each entry takes the charset and keyword overrides (a config's
``model.preset`` and ``model.options``):

* ``vr``: ``preset`` (``small``/``base``) and any ``VRConfig`` field;
* ``sgtr``: ``preset`` (``small``/``base``), the switches ``lm``, ``gtr``, ``mutual`` and ``fusion``
  (``gated``/``average``/``glu``), ``weights`` (loss weights ``fused``, ``lm``, ``gtr``, ``vr``, ``mutual``) and
  ``vr``, ``language`` and ``graph`` mappings of ``VRConfig``, ``LMConfig`` and ``GTRConfig`` fields (GTR's switches:
  ``graph: {neighbours, root_chain, position, pooling, nodes}``); see ``sgtr.models.sgtr.sgtr_config``.

Unknown names and options raise ``ValueError`` listing the valid ones.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from sgtr.data.charset import Charset
from sgtr.models.sgtr import SGTR
from sgtr.models.vr import SegmentationRecognizer

MODELS: dict[str, Callable[..., nn.Module]] = {
    "vr": SegmentationRecognizer.from_preset,
    "sgtr": SGTR.from_preset,
}


def build_model(name: str, charset: Charset, **overrides) -> nn.Module:
    """A fresh model by name; unknown names raise ``ValueError`` listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](charset, **overrides)
