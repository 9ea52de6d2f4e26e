"""The training engine: Lightning kept at the edge, wrapping the plain recognizer modules."""
