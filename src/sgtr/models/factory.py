"""``build_model``: one place that maps a model name to its constructor, for the engine, the CLI and export.

It sits above the models (they never import it). Each entry takes the charset and keyword overrides (a config's
``model.preset`` and ``model.options``):

* ``vr``: ``preset`` (``small``/``base``) and any ``VRConfig`` field;
* ``sgtr``: ``preset`` (``small``/``base``), the switches ``lm``, ``gtr``, ``mutual`` and ``fusion``
  (``gated``/``average``/``glu``), ``weights`` (loss weights ``fused``, ``lm``, ``gtr``, ``vr``, ``mutual``) and
  ``vr``, ``language`` and ``graph`` mappings of ``VRConfig``, ``LMConfig`` and ``GTRConfig`` fields (GTR's switches:
  ``graph: {neighbours, root_chain, position, pooling, nodes}``); see ``sgtr.models.sgtr.sgtr_config``;
* host recognizers (``sgtr.models.hosts``) — ``crnn``, ``trba``, ``srn``, ``pren``, ``abinet``, ``ppocr`` (the
  pretrained PP-OCRv6-small network; its weights come from ``sgtr import ppocr``): ``preset``
  (``small``/``base``) and any field of the host's config; ``gtr: true`` wraps the host in ``GTRPlugin``,
  which then also takes ``graph`` (``GTRConfig`` fields; it may also sit inside ``plugin``) and ``plugin``
  (``PluginConfig`` fields, ``weights`` among them; see ``sgtr.models.plugin.plugin_config``), e.g.
  ``{gtr: true, graph: {nodes: 8}, plugin: {fusion: average}}``. The preset names both the host's and the
  plug-in's. A new host is one more line, ``"name": with_gtr_option(Host.from_preset)``.

Unknown names and options raise ``ValueError`` listing the valid ones.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from sgtr.data.charset import Charset
from sgtr.models.hosts.abinet import ABINet
from sgtr.models.hosts.crnn import CRNN
from sgtr.models.hosts.ppocr import PPOCRRecognizer
from sgtr.models.hosts.pren import PREN
from sgtr.models.hosts.srn import SRN
from sgtr.models.hosts.trba import TRBA
from sgtr.models.plugin import GTRPlugin, plugin_config
from sgtr.models.sgtr import SGTR
from sgtr.models.vr import SegmentationRecognizer


def with_gtr_option(build_host: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """A factory entry for a host: its ``from_preset``, plus the ``gtr``, ``graph`` and ``plugin`` options."""

    def build(charset: Charset, preset: str = "small", *, gtr: bool = False, graph: dict | None = None,
              plugin: dict | None = None, **host_options) -> nn.Module:
        host = build_host(charset, preset, **host_options)
        if gtr:
            plugin = dict(plugin or {})
            if "graph" in plugin:  # GTR's options may also sit inside the plug-in's, where PluginConfig keeps them
                if graph is not None:
                    raise ValueError("GTR's graph options are given twice, beside plugin and inside it: keep one")
                graph = plugin.pop("graph")
            return GTRPlugin(host, charset, plugin_config(preset, graph=graph, **plugin))
        if graph is not None or plugin is not None:
            raise ValueError("the graph and plugin options configure GTR: add gtr: true")
        return host

    return build


MODELS: dict[str, Callable[..., nn.Module]] = {
    "vr": SegmentationRecognizer.from_preset,
    "sgtr": SGTR.from_preset,
    "crnn": with_gtr_option(CRNN.from_preset),
    "pren": with_gtr_option(PREN.from_preset),
    "trba": with_gtr_option(TRBA.from_preset),
    "srn": with_gtr_option(SRN.from_preset),
    "abinet": with_gtr_option(ABINet.from_preset),
    "ppocr": with_gtr_option(PPOCRRecognizer.from_preset),
}


def build_model(name: str, charset: Charset, **overrides) -> nn.Module:
    """A fresh model by name; unknown names raise ``ValueError`` listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](charset, **overrides)
