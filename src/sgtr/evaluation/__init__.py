"""Scoring recognizers the way papers do: protocols, metrics, prediction sources, means and comparisons.

``protocols`` cleans labels and predictions (36/62/94/raw), ``metrics`` turns cleaned pairs into word accuracy,
1-NED and mean confidence (training's validation uses the same ``Tally``), ``sources`` holds the prediction sources
that need no model (a predictions file, Tesseract, RapidOCR) and ``model_source`` the one that reads with a model
through ``sgtr.inference``, ``labels_only`` reads sets without decoding images for sources that need no pixels,
``benchmarks`` knows which names are the same benchmark and which sets a mean counts once, ``evaluator`` runs the
loop over named sets, ``comparison`` sets two results side by side with bootstrap intervals and McNemar's test, and
``report`` renders results as Markdown or JSON. Data is read through ``sgtr.data``; nothing here knows the CLI.
"""
