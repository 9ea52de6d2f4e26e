"""Synthetic word images with exact per-character instance masks (``sgtr synth``)."""
