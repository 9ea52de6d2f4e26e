"""Import PP-OCRv6-small's released weights from the ONNX file inside the installed ``rapidocr`` package.

The file's float initialisers, taken in the order its nodes first use them, line up one to one with the float
tensors of ``PPOCRRecognizer.state_dict()`` in registration order (convolution weight then bias, BatchNorm scale,
shift, mean, variance, LayerNorm scale and shift, linear weight then bias). The importer walks both lists together
and checks every shape, so a changed or unknown file is refused at the first initialiser that does not fit, by name.
Three transforms are applied on the way: linear weights are transposed (ONNX MatMul keeps them in×out), convolution
biases (stored as 1×C×1×1 addends) are flattened, and the first convolution's input channels are reversed, because
the network was trained on BGR images and sgtr feeds RGB.

The classifier keeps only the rows of the requested charset's symbols (``head_plan``). A case-folded charset keeps
both cases of each letter, grouped into one class (its probability is the pair's sum); symbols the network lacks get
a fresh row that starts at a large negative bias.

``onnx`` (the ``pretrained`` or ``export`` extra) and ``rapidocr`` (the ``pretrained`` extra) are imported only here,
so the rest of sgtr runs without them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sgtr.data.charset import Charset
from sgtr.models.hosts.ppocr import PPOCRConfig, PPOCRRecognizer

ONNX_NAME = "PP-OCRv6_rec_small.onnx"
UNTRAINED_BIAS = -12.0  # a fresh row's bias: far below any trained row, so it is never the argmax untaught
ATTRIBUTION = ("PP-OCRv6-small text recognizer by Baidu PaddleOCR (Apache-2.0), as distributed in the rapidocr "
               "wheel; weights converted by sgtr. Its training data is not disclosed and may overlap public "
               "benchmarks.")


class PretrainedImportError(ValueError):
    """The pretrained file is missing, unreadable or not the network this importer knows."""


@dataclass(frozen=True)
class ReleasedNetwork:
    """What the ONNX file holds: its initialisers in order of first use, its character list (row i + 1 of the
    classifier is ``characters[i]``; row 0 is the CTC blank), and where it came from."""

    path: Path
    tensors: list[tuple[str, np.ndarray]]
    characters: list[str]
    sha256: str
    source: dict


def find_released_file(name: str = ONNX_NAME) -> Path:
    """A model file (default: the recognizer) inside the installed rapidocr package, without importing rapidocr
    (which pulls in OpenCV). The photo reader finds the detector and orientation classifier here too."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedImportError("the rapidocr package is not installed: pip install 'sgtr[pretrained]'")
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    raise PretrainedImportError(f"rapidocr is installed but holds no models/{name}: install rapidocr==3.10.0")


def read_released(path: str | Path | None = None) -> ReleasedNetwork:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise PretrainedImportError("importing the pretrained network needs onnx: pip install 'sgtr[pretrained]'") \
            from None
    path = Path(path) if path is not None else find_released_file()
    data = path.read_bytes()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and friends from protobuf
        raise PretrainedImportError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    graph = model.graph
    initialisers = {i.name: i for i in graph.initializer}
    tensors, seen = [], set()
    for node in graph.node:
        for name in node.input:
            if name in initialisers and name not in seen:
                seen.add(name)
                array = numpy_helper.to_array(initialisers[name])
                if array.dtype.kind == "f" and array.size > 1:
                    tensors.append((name, array))
    meta = {p.key: p.value for p in model.metadata_props}
    if "character" not in meta:
        raise PretrainedImportError(f"{path}: no 'character' list in the ONNX metadata; not a PP-OCR recognizer")
    characters = meta["character"].split("\n") + [" "]  # the released head ends with a space row
    try:
        version = importlib.metadata.version("rapidocr")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    source = {"package": "rapidocr", "package_version": version, "file": f"rapidocr/models/{ONNX_NAME}",
              "sha256": hashlib.sha256(data).hexdigest(), "licence": "Apache-2.0", "attribution": ATTRIBUTION}
    return ReleasedNetwork(path, tensors, characters, source["sha256"], source)


def head_plan(charset: Charset, characters: list[str]) -> tuple[list[int], list[int], list[str]]:
    """For each kept head row: the released row it copies (−1 for a fresh row) and the sgtr class it scores; plus the
    symbols the network lacks. Row 0 is the blank/EOS. Under a case-folded charset a letter also keeps its other
    case's row; released characters that are equal after NFC normalisation share their class too."""
    index: dict[str, list[int]] = {}
    for row, ch in enumerate(characters, start=1):  # sgtr symbols are NFC; a few released ones only become so
        index.setdefault(unicodedata.normalize("NFC", ch), []).append(row)
    sources, classes, missing = [0], [0], []
    for cls, symbol in enumerate(charset.symbols, start=1):
        variants = [symbol] + ([symbol.swapcase()] if charset.fold_case and symbol.swapcase() != symbol else [])
        found = [row for v in dict.fromkeys(variants) for row in index.get(v, [])]
        if not found:
            missing.append(symbol)
            found = [-1]
        sources += found
        classes += [cls] * len(found)
    return sources, classes, missing


def build_imported(charset: Charset, released: ReleasedNetwork, **options) -> tuple[PPOCRRecognizer, list[str],
                                                                                   dict]:
    """A ``PPOCRRecognizer`` for ``charset`` carrying the released weights; returns it, the symbols the network lacks,
    and the model options to record (the head's row → class plan among them)."""
    sources, classes, missing = head_plan(charset, released.characters)
    grouped = len(classes) != charset.num_classes
    options = {**options, **({"head_rows": classes} if grouped else {})}
    model = PPOCRRecognizer(charset, PPOCRConfig(**{k: (tuple(v) if k == "head_rows" else v)
                                                     for k, v in options.items()}))
    targets = [(name, t) for name, t in model.state_dict().items() if t.is_floating_point()]
    head_w, head_b = "head.linear.weight", "head.linear.bias"
    state = {}
    for i, ((name, target), (onnx_name, array)) in enumerate(zip(targets, released.tensors)):
        value = torch.from_numpy(np.array(array, dtype=np.float32))
        if target.dim() == 2 and value.dim() == 2:  # MatMul (in, out) → Linear (out, in)
            value = value.t()
        elif target.dim() == 1 and value.dim() == 4:  # conv bias added as 1×C×1×1
            value = value.reshape(-1)
        if i == 0:  # the network was trained on BGR
            value = value.flip(1)
        if name in (head_w, head_b):
            rows = torch.tensor(sources).clamp(min=0)
            if value.shape[0] != len(released.characters) + 1:
                raise PretrainedImportError(f"{released.path}: initialiser {onnx_name!r} has {value.shape[0]} rows "
                                            f"for {len(released.characters) + 1} classes in its character list")
            value = value[rows].clone()
            fresh = torch.tensor(sources) < 0
            value[fresh] = 0.0 if name == head_w else UNTRAINED_BIAS
        if tuple(value.shape) != tuple(target.shape):
            raise PretrainedImportError(f"{released.path}: initialiser {onnx_name!r} has shape {tuple(array.shape)}, "
                                        f"which does not fit {name} {tuple(target.shape)}; not the network sgtr "
                                        "knows")
        state[name] = value
    if len(targets) != len(released.tensors):
        raise PretrainedImportError(f"{released.path}: holds {len(released.tensors)} weight tensors where the "
                                    f"PP-OCRv6-small recognizer has {len(targets)}; not the network sgtr knows")
    model.load_state_dict(state, strict=False)  # the integer BatchNorm counters keep their fresh values
    return model.eval(), missing, options
