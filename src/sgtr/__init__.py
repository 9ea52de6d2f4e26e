"""sgtr: scene text recognition with graph-based textual reasoning (S-GTR), and the tools around it.

Layers, imported one way only: ``cli`` → ``engine`` / ``inference`` / ``evaluation`` → ``models`` → ``layers``, with
``data`` (and ``synth``) at the ground.

``sgtr.Recognizer`` (``sgtr.inference.predictor``) is imported on first use, so ``import sgtr`` does not load torch.
"""

__version__ = "0.1.0"
__all__ = ["Recognizer", "__version__"]


def __getattr__(name: str):
    if name == "Recognizer":
        from sgtr.inference.predictor import Recognizer

        return Recognizer
    raise AttributeError(f"module 'sgtr' has no attribute {name!r}")
