"""Turning a recognizer's (B, T, K) logits into text: the one decoder every model, the evaluator and ``sgtr read`` use.

Attention-style outputs (``ctc`` false) are read greedily: argmax per step up to the first EOS (class 0). CTC outputs
collapse repeats and drop blanks (also class 0). The tensor work is batched; only building each string from its ids
runs per sample. Confidence follows PARSeq: the product of the max probabilities of the kept steps — for attention
outputs the characters plus the EOS step (all T steps when no EOS was predicted), for CTC every frame, i.e. the
probability of the greedy path.

A whitelist restricts the output to a set of symbols: the other classes' logits are set to -inf before the softmax,
so probabilities are renormalised over the allowed classes (EOS/blank is always allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import Tensor

from sgtr.data.charset import EOS_ID, UNK_SYMBOL, Charset
from sgtr.models.output import RecognizerOutput


@dataclass
class Prediction:
    """One sample's reading: ``char_probs`` holds one probability per character of ``text``."""

    text: str
    confidence: float
    char_probs: list[float]


def decode(output: RecognizerOutput | Tensor, charset: Charset, *, ctc: bool | None = None,
           whitelist: Iterable[str] | None = None, temperature: float = 1.0) -> list[Prediction]:
    """Decode a ``RecognizerOutput`` (its ``logits`` and ``ctc`` flag) or raw (B, T, K) logits; probabilities (so
    confidences) come from softmax(logits / ``temperature``), the text does not depend on it."""
    if isinstance(output, RecognizerOutput):
        logits, ctc = output.logits, output.ctc if ctc is None else ctc
    else:
        logits = output
    with torch.no_grad():
        logits = logits.detach().float() / temperature
        if whitelist is not None:
            allowed = allowed_classes(charset, whitelist, logits.shape[-1], logits.device)
            logits = logits.masked_fill(~allowed, -torch.inf)
        best, ids = logits.softmax(dim=-1).max(dim=-1)
        return _ctc(best, ids, charset) if ctc else _greedy(best, ids, charset)


def allowed_classes(charset: Charset, whitelist: Iterable[str], num_classes: int,
                    device: torch.device | str | None = None) -> Tensor:
    """(K,) bool: EOS plus the whitelisted symbols (normalised like labels; U+FFFD allows UNK). Symbols outside the
    charset are ignored, but a whitelist with none inside it is an error."""
    allowed = torch.zeros(num_classes, dtype=torch.bool, device=device)
    allowed[EOS_ID] = True
    wanted = {charset.normalize(s) for s in whitelist}
    ids = [i + 1 for i, s in enumerate(charset.symbols) if s in wanted]
    if UNK_SYMBOL in wanted and charset.unk_id is not None:
        ids.append(charset.unk_id)
    if not ids:
        raise ValueError(f"whitelist {''.join(sorted(wanted))!r} shares no symbol with charset {charset.name!r}")
    allowed[ids] = True
    return allowed


def _greedy(best: Tensor, ids: Tensor, charset: Charset) -> list[Prediction]:
    steps = torch.arange(ids.shape[1], device=ids.device)
    is_eos = ids == EOS_ID
    length = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), ids.shape[1])  # characters before EOS
    kept = steps <= length[:, None]  # characters and the EOS step
    confidence = torch.where(kept, best, 1.0).prod(dim=1)
    chars = steps < length[:, None]
    return _predictions(ids, best, chars, confidence, charset)


def ctc_emitting(ids: Tensor) -> Tensor:
    """(B, F) bool: the frames of greedy CTC paths (B, F) that emit a character — not blank, and unlike the frame
    before (repeats collapse). The one CTC collapse in sgtr."""
    previous = torch.nn.functional.pad(ids[:, :-1], (1, 0), value=EOS_ID)
    return (ids != EOS_ID) & (ids != previous)


def _ctc(best: Tensor, ids: Tensor, charset: Charset) -> list[Prediction]:
    return _predictions(ids, best, ctc_emitting(ids), best.prod(dim=1), charset)


def _predictions(ids: Tensor, best: Tensor, chars: Tensor, confidence: Tensor, charset: Charset) -> list[Prediction]:
    ids, best, chars, confidence = ids.cpu(), best.cpu(), chars.cpu(), confidence.cpu()
    return [Prediction(charset.decode(ids[b][chars[b]].tolist()), float(confidence[b]), best[b][chars[b]].tolist())
            for b in range(len(ids))]
