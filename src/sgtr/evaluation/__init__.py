"""Scoring recognizers the way papers do: protocols, metrics, prediction sources and the evaluation report."""
