"""A deterministic validation split of ``labels.tsv`` sets: each sample goes to val or train by a hash of its name.

A sample's share is ``int(sha256("SET/PATH")[:8], 16) % 1000`` (SET the set folder's name, PATH as written in its
``labels.tsv``); below ``1000 × val_fraction`` it is a validation sample. The hash depends on nothing but the sample's
own name, so the split is the same on every machine and in every run, does not change when the list is reordered, and
a sample added later moves no other. Each part is written as ``OUT/{val,train}/SET/labels.tsv`` with the path
rewritten relative to that file and the rest of the line (tab and label) kept byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from sgtr.data.labels import LabelFileError

BUCKETS = 1000
PARTS = ("val", "train")


def bucket(set_name: str, path: str) -> int:
    """The sample's share in ``[0, 1000)``; it goes to validation when the share is below the validation cut."""
    return int(hashlib.sha256(f"{set_name}/{path}".encode("utf-8")).hexdigest()[:8], 16) % BUCKETS


@dataclass
class SplitPlan:
    """The text of each file a split writes, by path, and how many samples each part of each set holds."""

    files: dict[Path, str]
    counts: dict[str, dict[str, int]]  # set name → {"val": n, "train": m}


def _set_folders(root: Path) -> list[Path]:
    if (root / "labels.tsv").is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "labels.tsv").is_file())
    if not folders:
        raise ValueError(f"{root}: holds no set folder with a labels.tsv")
    return folders


def plan_split(root: str | Path, out: str | Path, val_fraction: float = 0.1) -> SplitPlan:
    """What ``write_split`` would write for the sets under ``root`` (or ``root`` itself if it is one set)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    cut = round(val_fraction * BUCKETS)
    root, out = Path(root), Path(out)
    files: dict[Path, str] = {}
    counts: dict[str, dict[str, int]] = {}
    for folder in _set_folders(root):
        name = folder.name
        list_file = folder / "labels.tsv"
        parts: dict[str, list[str]] = {part: [] for part in PARTS}
        text = list_file.read_bytes().decode("utf-8").removeprefix("\ufeff")
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            path, sep, rest = line.partition("\t")
            if not sep or not path:
                raise LabelFileError(f"{list_file}:{lineno}: expected PATH<TAB>LABEL")
            if "\t" in rest:
                raise LabelFileError(f"{list_file}:{lineno}: {rest.count(chr(9)) + 2} tab-separated columns, "
                                     "expected PATH<TAB>LABEL")
            part = "val" if bucket(name, path) < cut else "train"
            target = out / part / name
            # abspath, not resolve: the new path keeps the spelling of the old one (no symlinks followed).
            parts[part].append(os.path.relpath(os.path.abspath(folder / path), os.path.abspath(target)) + sep + rest)
        for part, lines in parts.items():
            files[out / part / name / "labels.tsv"] = "".join(line + "\n" for line in lines)
        counts[name] = {part: len(lines) for part, lines in parts.items()}
    return SplitPlan(files, counts)


def write_split(plan: SplitPlan) -> None:
    for path, text in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
