"""``Recognizer``: the predictor object users read text with — a model, its charset and its input size, batched.

It loads a training checkpoint (no code is unpickled), resizes images as the model was trained, runs them in batches
and decodes with the shared decoder. ``sgtr evaluate CHECKPOINT`` and, later, ``sgtr read`` are built on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from sgtr.data.charset import Charset
from sgtr.data.transforms import resize_image
from sgtr.models.decoding import Prediction, decode
from sgtr.models.factory import build_model
from sgtr.serialization import CheckpointError, load_safe


class Recognizer:
    def __init__(self, model: torch.nn.Module, charset: Charset, input_size: tuple[int, int],
                 device: str | torch.device = "cpu", batch_size: int = 32):
        self.model = model.eval().to(device)
        self.charset, self.input_size, self.device, self.batch_size = charset, input_size, device, batch_size

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu", **kwargs) -> "Recognizer":
        ckpt = load_safe(path)
        meta = ckpt.get("sgtr")
        if not isinstance(meta, dict) or "config" not in meta or "state_dict" not in ckpt:
            raise CheckpointError(f"{path}: not an sgtr training checkpoint (no model config inside)")
        config, charset = meta["config"], Charset.from_config(meta["charset"])
        m = config["model"]
        model = build_model(m["name"], charset, preset=m["preset"], **m["options"])
        state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not fit model {m['name']!r} "
                                  f"({str(exc).splitlines()[0]})") from None
        size = (config["data"]["height"], config["data"]["width"])
        return cls(model, charset, size, device=device, **kwargs)

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        h, w = self.input_size
        batch = np.stack([resize_image(img.convert("RGB"), h, w) for img in images])
        return torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)

    @torch.inference_mode()
    def predict(self, images: Iterable[Image.Image], whitelist: Iterable[str] | None = None) -> list[Prediction]:
        images = list(images)
        out: list[Prediction] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            out += decode(self.model(self.preprocess(chunk)), self.charset, whitelist=whitelist)
        return out
