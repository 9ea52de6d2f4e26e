"""``ModelSpec``: everything besides the weights that makes a model — which model to build, its charset, its input size.

The trainer builds its model from one (``from_config``, on the training config), and every reader rebuilds the model
from one: training checkpoints carry it inside their training config; weights files (``sgtr.inference.weights``) and
ONNX files (``sgtr.inference.onnx_export``) carry it as one JSON document in their metadata, written by
``to_metadata`` and checked by ``from_metadata``, so the three file kinds rebuild the same model the same way. The
JSON holds a format tag and version: a file from a newer sgtr, or one that merely looks like ours, is refused with a
one-line ``CheckpointError`` naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from sgtr import __version__
from sgtr.data.charset import Charset
from sgtr.data.transforms import RESAMPLE
from sgtr.models.factory import build_model
from sgtr.models.state_names import upgrade_state
from sgtr.serialization import CheckpointError

# Bump when a reader of the previous version could misread a new file; readers refuse versions above theirs.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """``build_model(name, charset, preset=preset, **options)`` at ``input_size`` (H, W), as it was trained:
    stretched to it, or with ``keep_ratio`` scaled to H with the aspect ratio kept and padded to W
    (``sgtr.data.transforms.resize_image``)."""

    name: str
    charset: Charset
    input_size: tuple[int, int]
    preset: str = "small"
    options: dict[str, Any] = field(default_factory=dict)
    keep_ratio: bool = False
    # The resize filter (``sgtr.data.transforms.RESAMPLE``): "antialias" (sgtr's own) or "linear" (OpenCV's, as
    # PaddleOCR's networks were trained).
    resample: str = "antialias"
    # Word confidences are read from softmax(logits / temperature): fitted on held-back data by
    # ``sgtr.evaluation.calibration`` so that a confidence of 0.9 is right about 90% of the time (the argmax, so the
    # text, does not change).
    temperature: float = 1.0

    def build(self) -> nn.Module:
        return build_model(self.name, self.charset, preset=self.preset, **self.options)

    @classmethod
    def from_config(cls, config: dict, charset: Charset) -> "ModelSpec":
        """The model a training config describes (its ``model`` and ``data`` sections), over ``charset``."""
        model, data = config["model"], config["data"]
        return cls(model["name"], charset, (int(data["height"]), int(data["width"])), model.get("preset", "small"),
                   dict(model.get("options") or {}), bool(data.get("keep_ratio", False)),
                   str(data.get("resample", "antialias")))

    @classmethod
    def from_training(cls, config: dict, charset: dict) -> "ModelSpec":
        """From the ``config`` and ``charset`` a training checkpoint stores under its ``sgtr`` key."""
        return cls.from_config(config, Charset.from_config(charset))

    def to_metadata(self, kind: str, **extra: Any) -> str:
        """The JSON document a ``kind`` file (``weights``, ``onnx``) stores; ``extra`` adds kind-specific fields."""
        return json.dumps({"format": f"sgtr-{kind}", "format_version": FORMAT_VERSION, "sgtr_version": __version__,
                           "model": {"name": self.name, "preset": self.preset, "options": self.options},
                           "charset": self.charset.to_config(), "input_size": list(self.input_size),
                           "keep_ratio": self.keep_ratio, "resample": self.resample,
                           "temperature": self.temperature, **extra})

    @classmethod
    def from_metadata(cls, text: str | None, kind: str, path: str | Path) -> tuple["ModelSpec", dict]:
        """Parse and check ``to_metadata``'s document; returns the spec and the whole document (for the extras)."""
        if text is None:
            raise CheckpointError(f"{path}: not an sgtr {kind} file (no sgtr metadata inside; written by another "
                                  "tool?)")
        try:
            meta = json.loads(text)
            if meta.get("format") != f"sgtr-{kind}":
                raise CheckpointError(f"{path}: not an sgtr {kind} file (its metadata says format "
                                      f"{meta.get('format')!r})")
            version = int(meta["format_version"])
            if version > FORMAT_VERSION:
                raise CheckpointError(f"{path}: written by sgtr {meta.get('sgtr_version', '?')} in {kind} format "
                                      f"version {version}; this sgtr {__version__} reads up to version "
                                      f"{FORMAT_VERSION} (upgrade sgtr)")
            model = meta["model"]
            height, width = (int(v) for v in meta["input_size"])
            spec = cls(str(model["name"]), Charset.from_config(meta["charset"]), (height, width),
                       str(model["preset"]), dict(model["options"]), bool(meta.get("keep_ratio", False)),
                       str(meta.get("resample", "antialias")), float(meta.get("temperature", 1.0)))
            if spec.resample not in RESAMPLE:
                raise ValueError(f"resample {spec.resample!r} is not one of {', '.join(RESAMPLE)}")
        except CheckpointError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"{path}: corrupt sgtr metadata ({type(exc).__name__}: {exc})") from None
        return spec, meta

    def load_state(self, state: dict, path: str | Path) -> nn.Module:
        """A fresh model with ``state`` loaded strictly; a mismatch is a ``CheckpointError`` naming the file."""
        try:
            model = self.build()
        except (ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: torch refusing a layer's size
            raise CheckpointError(f"{path}: cannot build the model it describes ({exc})") from None
        expected = model.state_dict()
        state = upgrade_state(model, state)
        problems = {
            "missing": [k for k in expected if k not in state],
            "unexpected": [k for k in state if k not in expected],
            "of another shape": [k for k in expected if k in state and state[k].shape != expected[k].shape],
        }
        found = [f"{len(keys)} {what} (e.g. {keys[0]})" for what, keys in problems.items() if keys]
        if found:
            raise CheckpointError(f"{path}: weights do not fit model {self.name!r}: tensors " + ", ".join(found))
        model.load_state_dict(state)
        return model.eval()
