"""Shared test setup: one torch thread (CI has two cores and runs other work beside the suite), fixed seeds, and the
fixtures several test modules use."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """The tiny scrambled VR (``tests.helpers.models.tiny_model``) saved through the weights writer."""
    from sgtr.inference.weights import write_weights
    from tests.helpers.models import tiny_model

    spec, model = tiny_model()
    return write_weights(model, spec, tmp_path_factory.mktemp("tiny") / "tiny.safetensors")


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    """A labels.tsv folder with two good images and four bad samples: a corrupt image, an empty file, a missing path
    and a label with characters outside the 36 and 62 charsets."""
    from PIL import Image

    root = tmp_path / "messy"
    root.mkdir()
    for name, colour in (("good1.png", (250, 250, 250)), ("good2.png", (20, 20, 20)), ("unknown.png", (90, 0, 0))):
        Image.new("RGB", (40, 16), colour).save(root / name)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "empty.png").write_bytes(b"")
    (root / "labels.tsv").write_text(
        "good1.png\tHello\ngood2.png\tworld\ncorrupt.png\tbroken\nempty.png\tnothing\nmissing.png\tghost\n"
        "unknown.png\tcafé!\n", encoding="utf-8")
    return root
