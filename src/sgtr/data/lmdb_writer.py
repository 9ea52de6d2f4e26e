"""Writing the standard STR LMDB: ``LmdbBuilder``, a new database filled sample by sample and renamed into place
whole (``create_lmdb`` and the SynthText crops use it), and ``create_lmdb``, which fills one from labelled image
files (``sgtr data create-lmdb``).

Every image is decoded before it is stored (its original bytes are kept), bad ones are skipped and named, and the
database is built in a temporary folder beside the target and renamed into place only when finished, so an
interrupted run never leaves a half database that looks whole; a rerun simply builds it again.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import lmdb

from sgtr.data import lmdb_format as fmt
from sgtr.data.charset import Charset
from sgtr.data.images import BadImage, decode_image
from sgtr.data.labels import LabelledPath
from sgtr.data.skips import Skip, SkipLog
from sgtr.progress import bar

COMMIT_EVERY = 1000
# The map is sparse on Linux: the file grows with the data, this only caps it.
MAP_SIZE = 1 << 40


@dataclass
class WriteReport:
    written: int
    skipped: SkipLog


class LmdbBuilder:
    """A new standard LMDB at ``out``, built in a temporary folder beside it: samples are added one by one and the
    database is renamed into place, with ``num-samples`` and ``COMPLETE_KEY``, only when the ``with`` block ends
    without an error; an error removes the temporary folder. ``mask`` values are stored under ``mask-%09d``."""

    def __init__(self, out: str | Path, *, overwrite: bool = False):
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"{self.out} already exists (pass overwrite=True to replace it)")
        self.tmp = self.out.with_name(f".{self.out.name}.partial")
        self.written = 0

    def __enter__(self) -> "LmdbBuilder":
        shutil.rmtree(self.tmp, ignore_errors=True)  # leftovers of an interrupted run
        self.tmp.mkdir(parents=True)
        self.env = lmdb.open(str(self.tmp), map_size=MAP_SIZE, subdir=True, meminit=False)
        self.txn = self.env.begin(write=True)
        return self

    def add(self, image: bytes, label: str, mask: bytes | None = None) -> None:
        self.written += 1
        self.txn.put(fmt.image_key(self.written), image)
        self.txn.put(fmt.label_key(self.written), label.encode("utf-8"))
        if mask is not None:
            self.txn.put(fmt.mask_key(self.written), mask)
        if self.written % COMMIT_EVERY == 0:
            self.txn.commit()
            self.txn = self.env.begin(write=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        complete = exc_type is None
        try:
            if complete:
                self.txn.put(fmt.NUM_SAMPLES_KEY, str(self.written).encode())
                self.txn.put(fmt.COMPLETE_KEY, b"1")
                self.txn.commit()
        except BaseException:
            complete = False
            raise
        finally:
            self.env.close()  # also ends a transaction left open by an error
            if not complete:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if not complete:
            return  # the error propagates
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)


def create_lmdb(items: Iterable[LabelledPath], out: str | Path, *, charset: Charset | None = None,
                skips: SkipLog | None = None, overwrite: bool = False) -> WriteReport:
    """Write ``items`` to a new LMDB at ``out``. With a ``charset``, labels it cannot encode are skipped too."""
    skips = skips if skips is not None else SkipLog()
    with LmdbBuilder(out, overwrite=overwrite) as db:
        for item in bar(items, desc=f"writing {db.out.name}"):
            key = str(item.path)
            if charset is not None:
                reason = charset.check(charset.normalize(item.label))
                if reason is not None:
                    skips.add(Skip(key, f"{reason} (label {item.label!r})"))
                    continue
            try:
                data = item.path.read_bytes()
                decode_image(data)
            except FileNotFoundError:
                skips.add(Skip(key, "file not found"))
                continue
            except OSError as exc:  # a folder, no permission, a name too long for the file system...
                skips.add(Skip(key, f"cannot read file ({exc.strerror or exc})"))
                continue
            except BadImage as exc:
                skips.add(Skip(key, str(exc)))
                continue
            db.add(data, item.label)
    return WriteReport(db.written, skips)
