"""Evaluation protocols: how a label and a prediction are cleaned before they are compared.

The same cleaning is applied to both sides. Every protocol starts with Unicode NFC, so a label typed as ``e`` +
combining acute and a prediction holding the precomposed ``é`` are the same text. Then:

* ``36`` (the standard one in STR papers): transliterate to ASCII, lower-case, keep only ``[0-9a-z]``.
* ``62``: transliterate to ASCII, keep only ``[0-9a-zA-Z]``; case counts.
* ``94``: transliterate to ASCII, keep printable ASCII except the space (``!`` to ``~``); case and punctuation count.
* ``raw``: NFC only; the strings must be identical.

Transliterating means NFKD followed by dropping what is still not ASCII, as PARSeq does with its labels: accented
letters keep their base letter (``café`` becomes ``cafe``, ``brüno's`` becomes ``brunos`` under ``36``) and
compatibility forms unfold (``ﬁ`` becomes ``fi``, full-width ``Ａ`` becomes ``A``). A model with an ASCII charset can
only ever say ``cafe``; dropping the ``é`` instead (as DTRB's filter does) would turn the label into ``caf``, which no
ASCII reading matches. Letters without an ASCII decomposition (``ß``, ``æ``, CJK) are dropped. Only a few real
labels hold accented letters (``café``, ``fáilte``), so the choice moves a set's accuracy by a few samples at most.

A sample whose cleaned label is empty cannot be scored; the evaluator skips and counts it, under every protocol.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable


def _to_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_NOT_36 = re.compile(r"[^0-9a-z]+")
_NOT_62 = re.compile(r"[^0-9a-zA-Z]+")
_NOT_94 = re.compile(r"[^!-~]+")


@dataclass(frozen=True)
class Protocol:
    """A named cleaning rule; ``clean`` is applied to labels and predictions alike."""

    name: str
    description: str
    _rule: Callable[[str], str]

    def clean(self, text: str) -> str:
        return self._rule(unicodedata.normalize("NFC", text))


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("36", "case-insensitive, letters and digits only; the standard STR protocol",
                 lambda t: _NOT_36.sub("", _to_ascii(t).lower())),
        Protocol("62", "case-sensitive, letters and digits only",
                 lambda t: _NOT_62.sub("", _to_ascii(t))),
        Protocol("94", "case-sensitive, printable ASCII without space",
                 lambda t: _NOT_94.sub("", _to_ascii(t))),
        Protocol("raw", "exact match after Unicode NFC", lambda t: t),
    )
}


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None
