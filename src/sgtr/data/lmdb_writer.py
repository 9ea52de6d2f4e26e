"""Writing the standard STR LMDB from labelled image files (``sgtr data create-lmdb``).

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


def create_lmdb(items: Iterable[LabelledPath], out: str | Path, *, charset: Charset | None = None,
                skips: SkipLog | None = None, overwrite: bool = False) -> WriteReport:
    """Write ``items`` to a new LMDB at ``out``. With a ``charset``, labels it cannot encode are skipped too."""
    out = Path(out)
    skips = skips if skips is not None else SkipLog()
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True to replace it)")
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)  # leftovers of an interrupted run
    tmp.mkdir(parents=True)
    env = lmdb.open(str(tmp), map_size=MAP_SIZE, subdir=True, meminit=False)
    written = 0
    try:
        txn = env.begin(write=True)
        for item in bar(items, desc=f"writing {out.name}"):
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
            written += 1
            txn.put(fmt.image_key(written), data)
            txn.put(fmt.label_key(written), item.label.encode("utf-8"))
            if written % COMMIT_EVERY == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.put(fmt.NUM_SAMPLES_KEY, str(written).encode())
        txn.put(fmt.COMPLETE_KEY, b"1")
        txn.commit()
    except BaseException:
        env.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    env.close()
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return WriteReport(written, skips)
