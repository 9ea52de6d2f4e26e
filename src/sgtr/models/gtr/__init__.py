"""GTR, graph-based textual reasoning, one job per module.

``graph``: nodes, roots and edges from a host's predicted maps.  ``features``: node features gathered from the maps.
``conv``: the block-form normalised adjacency and the graph convolution.  ``pooling``: per-subgraph top-k pooling.
``reasoning``: the spatial and contextual stages and the readout.  ``model``: ``GTR``, the module a host plugs in.
"""

from sgtr.models.gtr.graph import Graph, build_graph
from sgtr.models.gtr.model import GTR, GTR_PRESETS, GTRConfig, GTROutput

__all__ = ["GTR", "GTR_PRESETS", "GTRConfig", "GTROutput", "Graph", "build_graph"]
