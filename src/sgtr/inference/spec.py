"""``ModelSpec`` for readers: defined beside the models (``sgtr.models.spec``), which the trainer builds from too."""

from sgtr.models.spec import FORMAT_VERSION, ModelSpec

__all__ = ["FORMAT_VERSION", "ModelSpec"]
