"""Lexicon-constrained reading: replace the model's text with the closest word of a given list.

Words are normalised like training labels (NFC, lower-cased for case-insensitive charsets such as ``36``), and words
the charset cannot write (symbols outside it, longer than its ``max_length``) are set aside in ``skipped``: the model
could never read them, and keeping them would break the link between a word and its per-character probabilities.

The closest word is the one at the smallest Levenshtein distance from the reading (``rapidfuzz``, unit costs). Ties,
common with short or empty readings, go to the word the model itself finds most probable: for step-wise outputs the
product of step t's probability of the word's t-th character and the next step's probability of EOS — exactly the
probability of that text under a parallel decoder such as the VR's. That probability and its per-character factors
become the reading's ``confidence`` and ``char_probs``. CTC outputs have no such per-step scoring and are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from torch import Tensor

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.decoding import Prediction


class Lexicon:
    def __init__(self, words: Iterable[str], charset: Charset):
        self.charset = charset
        self.words: list[str] = []
        self.skipped: list[str] = []
        seen: set[str] = set()
        for word in words:
            word = charset.normalize(word.strip())
            if not word or word in seen:
                continue
            if charset.check(word) is None:
                self.words.append(word)
                seen.add(word)
            else:
                self.skipped.append(word)
        if not self.words:
            raise ValueError(f"the lexicon has no word that charset {charset.name!r} can write")

    @classmethod
    def from_file(cls, path: str | Path, charset: Charset) -> "Lexicon":
        """One word per line, UTF-8."""
        return cls(Path(path).read_text(encoding="utf-8-sig").splitlines(), charset)

    def closest(self, text: str) -> list[str]:
        """Every word at the smallest edit distance from ``text``, in lexicon order."""
        _, best, _ = process.extractOne(text, self.words, scorer=Levenshtein.distance)
        return [w for w, _, _ in sorted(process.extract(text, self.words, scorer=Levenshtein.distance, limit=None,
                                                         score_cutoff=best), key=lambda m: m[2])]

    def match(self, text: str, log_probs: Tensor) -> Prediction:
        """The closest word to ``text`` scored under one sample's (T, K) step log-probabilities."""
        candidates = self.closest(text)
        scores = [self.score(word, log_probs) for word in candidates]
        return max(scores, key=lambda p: p.confidence)  # the first of equals, i.e. lexicon order

    def score(self, word: str, log_probs: Tensor) -> Prediction:
        ids = self.charset.encode(word) + [EOS_ID]
        steps = log_probs[torch.arange(len(ids)), torch.tensor(ids)].exp()
        return Prediction(word, float(steps.prod()), steps[:-1].tolist())
