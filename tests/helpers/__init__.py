"""Builders the test modules share (these modules hold no tests); shared fixtures live in ``tests/conftest.py``."""
