"""Parsers for label lists: ``labels.tsv`` (``PATH<TAB>LABEL``) and ``gt.txt`` (``PATH LABEL``).

Paths are resolved against the folder of the list file (``../`` allowed). Malformed lines become ``Skip`` records,
never exceptions, so one bad line does not lose a whole file. The one exception is a line with more tab-separated
columns than PATH and LABEL: a label cannot hold a tab, so the file is not a label list (a predictions file with its
confidence column, a spreadsheet export), and scoring or training on it would be wrong for every line, not one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sgtr.data.skips import Skip


class LabelFileError(ValueError):
    """A list file that is not a label list; the message names the file and line."""


@dataclass(frozen=True)
class LabelledPath:
    path: Path  # resolved, absolute
    label: str
    key: str  # the list file and line, for messages: "labels.tsv:12"


def parse_label_file(list_file: str | Path) -> tuple[list[LabelledPath], list[Skip]]:
    """Read a ``labels.tsv`` (tab-separated) or any other list (first run of whitespace separates path and label).
    Raises ``LabelFileError`` on a line with a third tab-separated column."""
    list_file = Path(list_file)
    tab_only = list_file.suffix.lower() == ".tsv"
    root = list_file.resolve().parent
    items: list[LabelledPath] = []
    skips: list[Skip] = []
    raw = list_file.read_bytes()
    for lineno, line_bytes in enumerate(raw.split(b"\n"), 1):
        line_bytes = line_bytes.removesuffix(b"\r")
        where = f"{list_file}:{lineno}"
        if not line_bytes.strip():
            continue
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            skips.append(Skip(where, "line is not valid UTF-8"))
            continue
        if lineno == 1:
            line = line.removeprefix("\ufeff")
        if tab_only:
            path, sep, label = line.partition("\t")
        else:
            tabbed = "\t" in line
            parts = line.split("\t", 1) if tabbed else line.split(None, 1)
            path, sep, label = (parts[0], "\t" if tabbed else " ", parts[1]) if len(parts) == 2 else (line, "", "")
        if sep == "\t" and "\t" in label:
            raise LabelFileError(f"{where}: {label.count(chr(9)) + 2} tab-separated columns, expected PATH<TAB>LABEL "
                                 "(a label holds no tab)")
        if not sep or not path:
            skips.append(Skip(where, "expected PATH and LABEL separated by a tab" if tab_only
                              else "expected PATH and LABEL separated by whitespace"))
            continue
        try:
            resolved = (root / path).resolve()
        except (ValueError, RuntimeError, OSError) as exc:  # a NUL byte; a symlink loop (RuntimeError before 3.13)
            skips.append(Skip(where, f"path cannot be resolved ({exc})"))
            continue
        items.append(LabelledPath(resolved, label, where))
    return items, skips
