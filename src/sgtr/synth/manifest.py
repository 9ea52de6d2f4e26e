"""Which font and background files a run drew from, by content hash, so the run can be redone elsewhere.

``sgtr synth`` writes ``manifest.json`` beside every shard it makes. ``resolve`` maps such a manifest back onto a
machine's files, in the manifest's order: by path where the file there still has the same hash, else by hash
among the candidates (another machine may install the same file elsewhere). With every file found, the same seed
gives the same samples; the files it could not find are returned so the command can say which.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

MANIFEST_NAME = "manifest.json"
VERSION = 1


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and the problem."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_manifest(fonts: Sequence[str], families: Sequence[str], backgrounds: Sequence[str], settings: dict
                  ) -> dict:
    return {"version": VERSION,
            "fonts": [{"path": p, "family": f, "sha256": file_sha256(p)} for p, f in zip(fonts, families)],
            "backgrounds": [{"path": p, "sha256": file_sha256(p)} for p in backgrounds],
            "settings": settings}


def write_manifest(manifest: dict, folder: str | Path) -> Path:
    path = Path(folder) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_manifest(path: str | Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not a JSON manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION or not all(
            isinstance(data.get(k), list) for k in ("fonts", "backgrounds")):
        raise ManifestError(f"{path}: not an sgtr synth manifest (version {VERSION} with fonts and backgrounds)")
    return data


@dataclass
class Resolved:
    files: list[str]  # this machine's files, in the manifest's order
    missing: list[dict]  # manifest entries with no file of that hash here


def resolve(entries: Sequence[dict], candidates: Sequence[str]) -> Resolved:
    """This machine's file for each manifest entry, in order: the same path when its hash matches, else any
    candidate with that hash."""
    by_hash: dict[str, str] | None = None
    files, missing = [], []
    for entry in entries:
        path, digest = entry.get("path", ""), entry.get("sha256", "")
        if Path(path).is_file() and file_sha256(path) == digest:
            files.append(path)
            continue
        if by_hash is None:  # hashing every candidate is the slow part, so only once a path fails
            by_hash = {}
            for c in candidates:
                by_hash.setdefault(file_sha256(c), c)
        if digest in by_hash:
            files.append(by_hash[digest])
        else:
            missing.append(entry)
    return Resolved(files, missing)
