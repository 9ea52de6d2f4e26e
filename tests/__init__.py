"""The sgtr test suite. A package so that test modules import their shared builders as ``tests.helpers.*``."""
