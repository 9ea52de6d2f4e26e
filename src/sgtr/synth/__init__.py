"""Synthetic word images with exact per-character instance masks (``sgtr synth``).

``text`` draws label texts, ``fonts`` finds faces and their glyph coverage, ``geometry`` builds the single warp,
``backgrounds`` and ``degrade`` make the surface and the damage, ``render`` puts one sample together, ``writer``
stores shards in LMDB, ``dataset`` serves samples on the fly and ``preview`` draws a contact sheet. See docs/synth.md.
"""
