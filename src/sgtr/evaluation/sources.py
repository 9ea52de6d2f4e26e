"""Where predictions come from: any object with a ``name`` and a ``predict(batch)`` method.

The evaluator only knows the ``PredictionSource`` protocol, so a model wrapper from ``sgtr.inference`` plugs in the same
way as the sources here: a predictions file written by any program, and two peer engines run for comparison
(Tesseract through its command-line program, RapidOCR through its Python package). A source may set
``needs_images = False`` when it never looks at pixels; the evaluator then reads labels without decoding images.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Protocol, Sequence

from sgtr.data.sample import Sample

# A prediction: the text and, when the source has one, a confidence in [0, 1]. None means "no prediction".
Prediction = tuple[str, float | None]


class PredictionSource(Protocol):
    name: str

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        """One entry per sample, in order; None only where the source has no prediction for that sample."""
        ...


class SourceError(RuntimeError):
    """A source that cannot be used here (a missing program or package); the message says how to fix it."""


def needs_images(source: PredictionSource) -> bool:
    return getattr(source, "needs_images", True)


# ---- predictions file -------------------------------------------------------------------------------------------
_INDEXED = re.compile(r"^(.*)#(\d+)$")


def canonical_key(key: str, base: Path | None = None) -> str:
    """The form in which sample keys and prediction paths are compared: a resolved absolute path, keeping an LMDB
    sample's ``#N`` index. Relative paths are taken from ``base`` (the current folder when None)."""
    match = _INDEXED.match(key)
    path, suffix = (match.group(1), f"#{int(match.group(2))}") if match else (key, "")
    resolved = Path(path)
    if base is not None and not resolved.is_absolute():
        resolved = base / resolved
    return str(resolved.resolve()) + suffix


def read_predictions(path: Path) -> dict[str, Prediction]:
    """Parse ``PATH<TAB>TEXT[<TAB>CONFIDENCE]`` lines (UTF-8) into predictions keyed by ``canonical_key``.

    A malformed line is an error rather than a skip: a predictions file is the user's own output, and a silently
    dropped line would show up only as a lower score.
    """
    base = path.resolve().parent
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    predictions: dict[str, Prediction] = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        key, sep, rest = line.partition("\t")
        if not sep or not key:
            raise ValueError(f"{where}: expected PATH<TAB>TEXT[<TAB>CONFIDENCE]")
        confidence: float | None = None
        if "\t" in rest:
            rest, _, field = rest.rpartition("\t")
            try:
                confidence = float(field)
            except ValueError:
                raise ValueError(f"{where}: confidence {field!r} is not a number") from None
            if not math.isfinite(confidence):
                raise ValueError(f"{where}: confidence {field!r} is not finite")
        canonical = canonical_key(key, base)
        previous = predictions.get(canonical)
        if previous is not None and previous != (rest, confidence):
            raise ValueError(f"{where}: {key} already has a different prediction ({previous[0]!r})")
        predictions[canonical] = (rest, confidence)
    return predictions


class PredictionsFile:
    """Predictions written beforehand, matched to samples by resolved path (``DIR#N`` for LMDB samples)."""

    needs_images = False

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"predictions {self.path.name}"
        self.predictions = read_predictions(self.path)

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        return [self.predictions.get(canonical_key(sample.key)) for sample in batch]


# ---- peer engines -----------------------------------------------------------------------------------------------
class Tesseract:
    """Debian's ``tesseract`` in single-line mode (``--psm 7``), one process per image, fed the image as it is.

    The text is the recognised words joined by single spaces; the confidence is the mean of the word confidences.
    """

    def __init__(self, language: str = "eng"):
        exe = shutil.which("tesseract")
        if exe is None:
            raise SourceError("tesseract is not installed; install it with: sudo bash scripts/setup-system.sh")
        self.exe = exe
        self.language = language
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        self.name = f"{version.strip() or 'tesseract'} --psm 7 -l {language}"
        # Tesseract's OpenMP threads slow a single word down and would fight other jobs for the cores.
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        return [self._read(sample) for sample in batch]

    def _read(self, sample: Sample) -> Prediction:
        buffer = io.BytesIO()
        sample.image.save(buffer, format="PNG")
        run = subprocess.run([self.exe, "stdin", "stdout", "--psm", "7", "-l", self.language, "tsv"],
                             input=buffer.getvalue(), capture_output=True, env=self.env)
        if run.returncode != 0:
            error = run.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"tesseract failed on {sample.key}: {error[-1] if error else f'exit {run.returncode}'}")
        return parse_tesseract_tsv(run.stdout.decode("utf-8", "replace"))


def parse_tesseract_tsv(tsv: str) -> Prediction:
    """Words (level-5 rows) of Tesseract's TSV output, joined by spaces, and their mean confidence as a fraction."""
    words, confidences = [], []
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) == 12 and fields[0] == "5" and fields[11].strip():
            words.append(fields[11].strip())
            confidences.append(float(fields[10]) / 100.0)
    return " ".join(words), (sum(confidences) / len(confidences) if confidences else None)


class RapidOcr:
    """RapidOCR 3.10's recognizer alone (PP-OCRv6-small, its full character list, ONNX Runtime), without detection
    or rotation, one crop per call so its own batching cannot change an answer; settings pinned to the package's
    defaults for recognition (48×320 input, aspect kept). Its whole-image preprocessing is off: made for detection,
    it first scales any image whose short side is under 30 px up to a multiple of 32 px on each side, which bends
    a small crop's aspect ratio before the recognizer sees it (5 of the 7 IC13_1015 crops that it and sgtr's port
    read differently were such crops); off, the crop goes to the recognizer as given, as it does to sgtr's."""

    def __init__(self):
        try:
            from rapidocr import ModelType, OCRVersion, RapidOCR
        except ImportError:
            raise SourceError("rapidocr is not installed; install the extra: pip install 'sgtr[pretrained]'") from None
        from importlib.metadata import version

        self.engine = RapidOCR(params={"Global.use_det": False, "Global.use_cls": False, "Global.use_rec": True,
                                       "Global.log_level": "critical", "Global.use_preprocess_img": False,
                                       "Rec.ocr_version": OCRVersion.PPOCRV6,
                                       "Rec.model_type": ModelType.SMALL, "Rec.rec_img_shape": [3, 48, 320]})
        self.name = f"rapidocr {version('rapidocr')} (PP-OCRv6-small, recognition only)"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        out: list[Prediction | None] = []
        for sample in batch:
            result = self.engine(sample.image, use_det=False, use_cls=False, use_rec=True)
            out.append((str(result.txts[0]), float(result.scores[0])) if result.txts else ("", None))
        return out


class RapidOcrV4:
    """The older RapidOCR (rapidocr_onnxruntime 1.4.4: PP-OCRv4 recognition in ONNX Runtime), recognition only."""

    def __init__(self):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise SourceError("rapidocr_onnxruntime is not installed; install the extra: "
                              "pip install 'sgtr[rapidocr-v4]'") from None
        from importlib.metadata import version

        self.engine = RapidOCR()
        self.name = f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')} (PP-OCRv4, recognition only)"

    def predict(self, batch: Sequence[Sample]) -> list[Prediction | None]:
        out: list[Prediction | None] = []
        for sample in batch:
            # A PIL image is converted to the BGR array the engine expects by its own loader.
            result, _ = self.engine(sample.image, use_det=False, use_cls=False, use_rec=True)
            out.append((str(result[0][0]), float(result[0][1])) if result else ("", None))
        return out


ENGINES = {"tesseract": Tesseract, "rapidocr": RapidOcr, "rapidocr-v4": RapidOcrV4}
