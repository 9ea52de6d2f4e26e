"""Character sets and the label codec shared by every model, dataset and metric.

Token layout (one layout for every head in the project):

* id 0 is end-of-sequence. It doubles as the segmentation background class and as the CTC blank, so a
  segmentation map, an attention decoder and a CTC head all speak the same vocabulary of ``len(charset) + 1``
  classes (``num_classes``).
* ids 1..C are the symbols, in the order the charset lists them.
* with ``unknown="unk"`` one more id, C+1, stands for any symbol outside the charset.

Padding in encoded targets is ``PAD_ID`` (-100), the ignore index of ``torch.nn.functional.cross_entropy``.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Sequence

import torch

EOS_ID = 0
PAD_ID = -100
UNK_SYMBOL = "\ufffd"

PRESETS: dict[str, str] = {
    "36": string.digits + string.ascii_lowercase,
    "62": string.digits + string.ascii_lowercase + string.ascii_uppercase,
    "94": string.digits + string.ascii_lowercase + string.ascii_uppercase + string.punctuation,
}

UnknownPolicy = Literal["drop", "unk"]


class LabelError(ValueError):
    """A label that the charset cannot encode under its policy (unknown symbols, too long, empty)."""


@dataclass(frozen=True)
class Charset:
    """An ordered set of symbols plus the rules for turning labels into token ids.

    ``fold_case`` lower-cases labels before encoding; it is on by default for charsets that hold lower-case letters
    but no upper-case ones (the ``36`` preset), so ``"Hello"`` trains a case-insensitive model instead of being dropped.
    """

    symbols: tuple[str, ...]
    max_length: int = 25
    unknown: UnknownPolicy = "drop"
    fold_case: bool | None = None
    name: str = "custom"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        symbols = tuple(unicodedata.normalize("NFC", s) for s in self.symbols)
        if not symbols:
            raise ValueError("a charset needs at least one symbol")
        if any(len(s) != 1 for s in symbols):
            bad = next(s for s in symbols if len(s) != 1)
            raise ValueError(f"charset symbols must be single characters after NFC normalisation, got {bad!r}")
        if len(set(symbols)) != len(symbols):
            dup = next(s for s in symbols if symbols.count(s) > 1)
            raise ValueError(f"charset lists symbol {dup!r} twice")
        if self.unknown not in ("drop", "unk"):
            raise ValueError(f"unknown-symbol policy must be 'drop' or 'unk', got {self.unknown!r}")
        if self.max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {self.max_length}")
        object.__setattr__(self, "symbols", symbols)
        if self.fold_case is None:
            has_lower = any(s.islower() for s in symbols)
            has_upper = any(s.isupper() for s in symbols)
            object.__setattr__(self, "fold_case", has_lower and not has_upper)
        object.__setattr__(self, "_index", {s: i + 1 for i, s in enumerate(symbols)})

    # ---- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: str | Path, **kwargs) -> "Charset":
        """A preset name (``36``, ``62``, ``94``) or the path of a file with one symbol per line."""
        spec = str(spec)
        if spec in PRESETS:
            return cls(tuple(PRESETS[spec]), name=spec, **kwargs)
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"charset {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a readable file")
        return cls.from_file(path, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> "Charset":
        """One symbol per line, UTF-8. Only the line break is stripped, so a line holding one space is the space."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: charset file is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        symbols = []
        for lineno, line in enumerate(text.split("\n"), 1):
            line = line.removesuffix("\r")
            if line == "":
                continue
            line = unicodedata.normalize("NFC", line)
            if len(line) != 1:
                raise ValueError(f"{path}:{lineno}: expected one symbol per line, got {line!r}")
            symbols.append(line)
        kwargs.setdefault("name", path.stem)
        try:
            return cls(tuple(symbols), **kwargs)
        except ValueError as exc:  # no symbols, or one listed twice: say which file
            raise ValueError(f"{path}: {exc}") from None

    def to_config(self) -> dict:
        """A JSON-safe description that ``from_config`` turns back into an equal charset."""
        return {"symbols": "".join(self.symbols), "max_length": self.max_length, "unknown": self.unknown,
                "fold_case": self.fold_case, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "Charset":
        return cls(tuple(config["symbols"]), max_length=int(config.get("max_length", 25)),
                   unknown=config.get("unknown", "drop"), fold_case=config.get("fold_case"),
                   name=config.get("name", "custom"))

    # ---- sizes --------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def unk_id(self) -> int | None:
        return len(self.symbols) + 1 if self.unknown == "unk" else None

    @property
    def num_classes(self) -> int:
        """Output classes of a head: EOS/background/blank, the symbols, and UNK when the policy keeps one."""
        return len(self.symbols) + 1 + (self.unknown == "unk")

    @property
    def max_steps(self) -> int:
        """Decoding steps: the longest label plus its end-of-sequence."""
        return self.max_length + 1

    # ---- labels -------------------------------------------------------------------------------------------------
    def normalize(self, label: str) -> str:
        label = unicodedata.normalize("NFC", label)
        return label.lower() if self.fold_case else label

    def check(self, label: str) -> str | None:
        """The reason a normalised label cannot be encoded, or None when it can."""
        if not label:
            return "empty label"
        if len(label) > self.max_length:
            return f"label longer than {self.max_length} characters ({len(label)})"
        if self.unknown == "drop":
            unknown = sorted({c for c in label if c not in self._index})
            if unknown:
                return "characters outside the charset: " + "".join(unknown)
        return None

    def encode(self, label: str) -> list[int]:
        """Token ids of a label, without EOS. Raises ``LabelError`` naming the problem."""
        label = self.normalize(label)
        reason = self.check(label)
        if reason is not None:
            raise LabelError(reason)
        unk = self.unk_id
        return [self._index.get(c, unk) for c in label]  # type: ignore[misc]

    def encode_batch(self, labels: Sequence[str]) -> torch.Tensor:
        """Targets of shape (B, max_steps): the ids, one EOS, then ``PAD_ID``."""
        out = torch.full((len(labels), self.max_steps), PAD_ID, dtype=torch.long)
        for row, label in enumerate(labels):
            ids = self.encode(label)
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            out[row, len(ids)] = EOS_ID
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text up to the first EOS; padding and out-of-range ids are ignored, UNK becomes U+FFFD."""
        chars = []
        n = len(self.symbols)
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if 1 <= i <= n:
                chars.append(self.symbols[i - 1])
            elif i == self.unk_id:
                chars.append(UNK_SYMBOL)
        return "".join(chars)
