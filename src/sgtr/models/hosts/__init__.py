"""Host recognizers: other papers' models (CRNN, TRBA, SRN, PREN, ABINet-LV) that GTR plugs into.

Each host is a compact re-implementation that honours the contract below, so ``sgtr.models.plugin.GTRPlugin`` wraps
any of them without special cases, and each also trains, reads and exports on its own like any sgtr model.
``crnn``: VGG-style convs → BiLSTM → CTC.  ``pren``: primitive representations pooled into T slots → linear decoder.
The factory (``sgtr.models.factory``) builds a host by name and, with ``gtr: true`` in its options, wraps it.

The host contract
-----------------

Construction: a plain ``nn.Module`` built as ``Host(charset, config)`` with a frozen-dataclass config, and a
classmethod ``from_preset(charset, preset="small", **overrides)``. ``small`` is sized for 32×128 input on a CPU;
overrides are checked with ``sgtr.models.overrides.replace_checked``, so an unknown name is an error listing the valid
ones. No training-stack (Lightning) imports.

Attributes the wrapper reads:

* ``feature_channels``: D, the channels of ``features``;
* ``hidden_width``: D_h, the width of ``extras["step_hidden"]``, or 0 when the host has none;
* ``language_branch``: the name of its language-model branch in ``branches`` (SRN's GSRM, ABINet's BCN), or None;
* ``has_order_maps``: whether its output carries ``order_maps`` (the plug-in builds its own ordering module only for
  hosts without; deciding at construction keeps every parameter in use, which DDP requires);
* ``frame_channels`` (CTC hosts): D_f, the width of ``extras["frame_features"]``.

``forward(images (B, 3, H, W) in [-1, 1], targets: Targets | None = None) -> RecognizerOutput`` with:

* ``logits``: (B, T, K) attention-style — T = ``charset.max_steps`` steps, class 0 = EOS — or (B, F, K) CTC frames
  with ``ctc=True`` (class 0 = blank);
* ``features``: (B, D, H', W'), the last 2-D visual map (before any height collapse); GTR's node features and the
  plug-in's segmentation head read it;
* ``order_maps``: (B, T, H', W') on the features' grid, each map summing to 1 over its pixels — only when the host
  has per-step attention of its own (TRBA, SRN, ABINet), else None (the plug-in then learns its own);
* ``branches``: the host's own named (B, T, K) attention-style branches when it has several (e.g. ``vision``,
  ``lm``), else empty. Readers decode every branch with the output's ``ctc`` flag, so a CTC host puts none here;
* ``extras["step_hidden"]``: (B, T, D_h), the per-step hidden state the final logits are classified from, where
  there is one (attention hosts); the plug-in's gated fusion uses it;
* ``extras["frame_features"]`` (CTC hosts): (B, F, D_f), the per-frame features the CTC classifier reads (after
  the host's sequence model, so they carry the word's context); the plug-in's ``frame_features`` option gives them
  to its heads and to GTR beside the 2-D map;
* ``losses`` / ``loss``: its own losses and their weighted total, when ``targets`` are given. Attention hosts use
  cross-entropy over the valid steps, CTC hosts CTC with blank 0, the label taken from ``targets.ids`` without its
  EOS (0) and ``PAD_ID`` (-100) padding. Every loss lives in ``sgtr.models.losses``.
"""
