"""What the synthetic images say: real words, random strings and number-like strings, mixed by configurable weights.

Real words come from wordfreq's English list plus a Debian dictionary (``/usr/share/dict/words``) where one is
installed, or from a user's word file. Every text is one the charset can encode (after its own normalisation, so
upper-case variants are drawn for a case-folding charset too) and at most ``charset.max_length`` long.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from sgtr.data.charset import Charset

KINDS = ("word", "random", "number")
DEFAULT_MIX = {"word": 0.6, "random": 0.25, "number": 0.15}
WORDFREQ_WORDS = 50_000
SYSTEM_DICTIONARIES = ("/usr/share/dict/words",)
# Real text is mostly lower case, then Title case, then shouting.
CASE_WEIGHTS = {"lower": 0.5, "title": 0.3, "upper": 0.2}
NUMBER_PATTERNS = ("#", "##", "###", "####", "#####", "######", "#.##", "##.##", "$#.##", "$##", "##%", "#,###",
                   "##:##", "##/##/####", "###-####", "(###)###-####", "#-#", "No.#", "#st", "#th", "##kg", "#.#m")


class TextError(ValueError):
    """A word source that yields nothing usable; the message names it and says why in one line."""


def parse_mix(spec: str) -> dict[str, float]:
    """``word=0.6,random=0.25,number=0.15`` (weights need not sum to one)."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise TextError(f"text mix {spec!r}: expected KIND=WEIGHT with KIND one of {', '.join(KINDS)}")
        try:
            mix[name] = float(value)
        except ValueError:
            raise TextError(f"text mix {spec!r}: weight {value!r} is not a number") from None
        if mix[name] < 0:
            raise TextError(f"text mix {spec!r}: weight of {name} is negative")
    if sum(mix.values()) <= 0:
        raise TextError(f"text mix {spec!r}: no positive weight")
    return mix


def read_word_file(path: str | Path) -> list[str]:
    """One word (or phrase) per line, UTF-8; blank lines ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TextError(f"word list {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise TextError(f"word list {path}: not UTF-8") from None
    return [w.strip() for w in text.splitlines() if w.strip()]


def default_words() -> list[str]:
    """wordfreq's most frequent English words, then any installed system dictionary."""
    from wordfreq import top_n_list

    words = list(top_n_list("en", WORDFREQ_WORDS))
    for path in SYSTEM_DICTIONARIES:
        if Path(path).is_file():
            words += read_word_file(path)
    return words


def usable_words(words: Sequence[str], charset: Charset) -> list[str]:
    """The words the charset can encode, first occurrence kept, in input order (so samples are reproducible)."""
    seen: set[str] = set()
    kept = []
    for w in words:
        if w not in seen and charset.check(charset.normalize(w)) is None:
            seen.add(w)
            kept.append(w)
    return kept


@dataclass
class TextSource:
    """Draws label texts; ``sample`` uses only the generator it is given, so texts are reproducible per sample."""

    charset: Charset
    words: list[str]
    mix: dict[str, float]
    uniform_length: float = 0.0  # share of texts whose length is uniform in 1..charset.max_length

    def __post_init__(self) -> None:
        self.mix = {k: v for k, v in self.mix.items() if v > 0}
        self._by_length: dict[int, list[str]] = {}
        for w in self.words:
            self._by_length.setdefault(len(w), []).append(w)
        if "word" in self.mix and not self.words:
            raise TextError("the word list has no word this charset can encode; give --words FILE or set the "
                            "text mix's word weight to 0")
        self._kinds = list(self.mix)
        p = np.array([self.mix[k] for k in self._kinds], dtype=np.float64)
        self._p = p / p.sum()
        symbols = "".join(self.charset.symbols)
        alphabet = self.render_alphabet(self.charset)
        self._classes = {
            "digits": "".join(c for c in string.digits if c in alphabet),
            "lower": "".join(c for c in string.ascii_lowercase if c in alphabet),
            "upper": "".join(c for c in string.ascii_uppercase if c in alphabet),
            "punct": "".join(c for c in symbols if not c.isalnum() and not c.isspace()),
            "other": "".join(c for c in symbols if c not in string.printable),
        }
        self._space = " " in symbols

    @staticmethod
    def render_alphabet(charset: Charset) -> str:
        """Every character a text may contain: the charset's symbols, plus the capitals a case-folding charset
        reads as its lower-case letters."""
        chars = list(charset.symbols)
        if charset.fold_case:
            chars += [c.upper() for c in charset.symbols if len(c.upper()) == 1 and c.upper() not in chars]
        return "".join(chars)

    @classmethod
    def build(cls, charset: Charset, mix: dict[str, float] | None = None,
              words_file: str | Path | None = None, uniform_length: float = 0.0) -> "TextSource":
        words = read_word_file(words_file) if words_file is not None else default_words()
        if words_file is not None and not words:
            raise TextError(f"word list {words_file}: empty")
        kept = usable_words(words, charset)
        if words_file is not None and not kept:
            raise TextError(f"word list {words_file}: none of its {len(words)} words fits charset {charset.name} "
                            f"(max length {charset.max_length})")
        return cls(charset, kept, dict(mix or DEFAULT_MIX), uniform_length)

    def sample(self, rng: np.random.Generator) -> str:
        """A text the charset can encode (its case as drawn; the charset folds it when it encodes)."""
        length = None
        if self.uniform_length and rng.random() < self.uniform_length:
            length = int(rng.integers(1, self.charset.max_length + 1))
        while True:
            kind = self._kinds[int(rng.choice(len(self._kinds), p=self._p))]
            text = getattr(self, f"_{kind}")(rng, length)
            if text and self.charset.check(self.charset.normalize(text)) is None:
                return text

    def _length(self, rng: np.random.Generator) -> int:
        # Mostly word-like lengths with a long tail up to the charset's limit.
        return int(min(self.charset.max_length, 1 + rng.geometric(1 / 6)))

    def _word(self, rng: np.random.Generator, length: int | None = None) -> str:
        same = self._by_length.get(length, []) if length else []
        if same:
            word = same[int(rng.integers(len(same)))]
        else:
            word = self.words[int(rng.integers(len(self.words)))]
            if self._space and rng.random() < 0.15:
                word = f"{word} {self.words[int(rng.integers(len(self.words)))]}"
            # Longer than any word: words run together (as on a URL or a shop front), cut at the length.
            while length and len(word) < length:
                glue = " " if self._space and rng.random() < 0.5 else ""
                word = f"{word}{glue}{self.words[int(rng.integers(len(self.words)))]}"
            word = word[:length].strip() if length else word
        case = rng.choice(list(CASE_WEIGHTS), p=list(CASE_WEIGHTS.values()))
        cased = {"lower": word, "title": word[:1].upper() + word[1:], "upper": word.upper()}[case]
        # Capitals the charset cannot hold would make the label unencodable; keep the word as written then.
        return cased if self.charset.check(self.charset.normalize(cased)) is None else word

    def _random(self, rng: np.random.Generator, length: int | None = None) -> str:
        c = self._classes
        pools = [p for p in (c["digits"] + c["lower"], c["lower"], c["upper"], c["digits"] + c["upper"],
                             c["digits"] + c["lower"] + c["upper"], c["digits"] + c["lower"] + c["upper"] + c["punct"],
                             c["punct"] + c["other"] + c["lower"]) if p]
        pool = pools[int(rng.integers(len(pools)))]
        text = "".join(pool[i] for i in rng.integers(len(pool), size=length or self._length(rng)))
        if self._space and len(text) > 3 and rng.random() < 0.2:
            cut = int(rng.integers(1, len(text) - 1))
            text = text[:cut] + " " + text[cut + 1:]
        return text

    def _number(self, rng: np.random.Generator, length: int | None = None) -> str:
        digits = self._classes["digits"]
        if not digits:
            return self._random(rng, length)
        if length:
            return "".join(digits[i] for i in rng.integers(len(digits), size=length))
        pattern = NUMBER_PATTERNS[int(rng.integers(len(NUMBER_PATTERNS)))]
        text = "".join(digits[int(rng.integers(len(digits)))] if ch == "#" else ch for ch in pattern)
        if self.charset.check(self.charset.normalize(text)) is not None:
            # Separators outside the charset: the digits alone still read as a number.
            text = "".join(ch for ch in text if ch in digits)
        return text
