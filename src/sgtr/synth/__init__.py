"""Synthetic word images with exact per-character instance masks (``sgtr synth``).

``text`` draws label texts, ``fonts`` finds faces and their glyph coverage, ``geometry`` builds the single warp,
``backgrounds`` and ``degrade`` make the surface and the damage, ``palette`` holds the colours of real text,
``render`` puts one sample together, ``writer`` stores shards in LMDB, ``manifest`` records the files a run drew
from, ``dataset`` serves samples on the fly and ``preview`` draws a contact sheet. See docs/synth.md.
"""
