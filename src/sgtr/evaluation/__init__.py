"""Scoring recognizers the way papers do: protocols, metrics, prediction sources and the evaluation report.

``protocols`` cleans labels and predictions (36/62/94/raw), ``metrics`` turns cleaned pairs into word accuracy,
1-NED and mean confidence, ``sources`` holds the prediction sources (a predictions file, Tesseract, RapidOCR; a model
wrapper plugs in through the same ``predict`` protocol), ``labels_only`` reads sets without decoding images for
sources that need no pixels, ``evaluator`` runs the loop over named sets, and ``report`` renders the result as
Markdown or JSON. This package reads data through ``sgtr.data`` and knows nothing of models or the CLI.
"""
