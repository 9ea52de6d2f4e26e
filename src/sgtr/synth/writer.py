"""Writing synthetic samples into LMDB shards: parallel rendering, ordered commits, resume and append.

A shard ``i/n`` holds the global sample indices ``i, i + n, i + 2n, ...`` below ``count``, stored 1-based in that order
under the standard keys plus ``mask-%09d`` and ``boxes-%09d`` (see ``sgtr.data.lmdb_format``). Each committed
transaction adds a run of samples and the new ``num-samples`` together, so an interrupted shard is always a valid
prefix; ``COMPLETE_KEY`` is written only when the shard holds all its samples, and removed while more are appended.
A rerun continues from ``num-samples``; the settings stored under ``CONFIG_KEY`` must match, so the continuation
is the same sample stream (the count may grow: the stream does not depend on it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import lmdb
import numpy as np

from sgtr.data import lmdb_format as fmt
from sgtr.data.skips import Skip
from sgtr.progress import bar
from sgtr.synth.render import Rendered, SynthError, SynthGenerator

log = logging.getLogger("sgtr.synth")

CONFIG_KEY = fmt.SYNTH_CONFIG_KEY
IMAGE_FORMATS = ("jpg", "png")
# Samples per worker task and per committed transaction: large enough to amortise the commit's fsync, small enough
# that an interruption loses little.
CHUNK = 256
PROGRESS_SECONDS = 10.0


@dataclass
class WriteReport:
    path: Path
    total: int  # samples the shard holds now
    written: int  # samples this run added
    seconds: float
    bytes_written: int  # encoded bytes of this run's samples (keys and values)
    stats: Counter = field(default_factory=Counter)
    skips: list[Skip] = field(default_factory=list)


def shard_indices(count: int, shard: int, num_shards: int) -> range:
    """The global sample indices of shard ``shard`` of ``num_shards``."""
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard}/{num_shards}: the shard index must be in 0..{num_shards - 1}")
    return range(shard, count, num_shards)


def encode(sample: Rendered, image_format: str) -> tuple[bytes, bytes, bytes, bytes]:
    """Image, label, mask and boxes values of one sample. JPEG is quality 95 without chroma subsampling, so
    colour edges stay on their characters; the mask is always lossless PNG."""
    bgr = np.ascontiguousarray(sample.image[..., ::-1])
    if image_format == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, image = cv2.imencode(".jpg", bgr, params)
    else:
        ok, image = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    ok_mask, mask = cv2.imencode(".png", sample.mask, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not (ok and ok_mask):
        raise SynthError("OpenCV could not encode a sample")
    return image.tobytes(), sample.label.encode("utf-8"), mask.tobytes(), sample.boxes.astype("<i2").tobytes()


# ---- workers ----------------------------------------------------------------------------------------------------
_worker: tuple[SynthGenerator, str] | None = None


def _init_worker(generator: SynthGenerator, image_format: str) -> None:
    global _worker
    generator.stats, generator.skips = Counter(), []  # a forked copy would report the parent's counts again
    _worker = (generator, image_format)


def _init_pool_worker(generator: SynthGenerator, image_format: str) -> None:
    # Ctrl-C goes to the whole process group; the parent alone handles it (and ends the pool), so workers do not
    # each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(generator, image_format)


def _render_chunk(indices: Sequence[int]) -> tuple[list[tuple[bytes, bytes, bytes, bytes]], Counter, list[Skip]]:
    generator, image_format = _worker  # type: ignore[misc]
    records = [encode(generator.render(i), image_format) for i in indices]
    stats, skips = generator.stats, generator.skips
    generator.stats, generator.skips = Counter(), []
    return records, stats, skips


def _chunks(indices: Sequence[int]) -> Iterator[Sequence[int]]:
    for k in range(0, len(indices), CHUNK):
        yield indices[k:k + CHUNK]


def _results(generator: SynthGenerator, indices: Sequence[int], workers: int, image_format: str):
    if workers <= 1:
        _init_worker(generator, image_format)
        yield from map(_render_chunk, _chunks(indices))
        return
    # fork shares the scanned fonts and word list for free; elsewhere they are pickled once per worker.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers, _init_pool_worker, (generator, image_format)) as pool:
        yield from pool.imap(_render_chunk, _chunks(indices))


# ---- the shard --------------------------------------------------------------------------------------------------
def settings(generator: SynthGenerator, shard: int, num_shards: int, image_format: str) -> dict:
    """What decides the sample stream: a resumed run must match it exactly."""
    def digest(items: Sequence[str]) -> str:
        return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]

    return {**generator.config.describe(), "fonts": generator.fonts.digest(),
            "backgrounds": digest(generator.backgrounds.files), "words": digest(generator.texts.words),
            "shard": [shard, num_shards], "image_format": image_format}


def _read_state(env: lmdb.Environment, path: Path, wanted: dict) -> tuple[int, bool]:
    with env.begin() as txn:
        raw_config, raw_num = txn.get(CONFIG_KEY), txn.get(fmt.NUM_SAMPLES_KEY)
        complete = txn.get(fmt.COMPLETE_KEY) is not None
    if raw_config is None:
        if raw_num is not None:
            raise SynthError(f"{path} holds an LMDB that sgtr synth did not write; choose another --out")
        return 0, False
    stored = json.loads(raw_config)
    if stored != wanted:
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise SynthError(f"{path} was written with other settings ({', '.join(changed)} differ); rerun with the "
                         "same settings to resume, or choose another --out")
    return int(raw_num or 0), complete


def write_shard(generator: SynthGenerator, out: str | Path, count: int, *, shard: int = 0, num_shards: int = 1,
                workers: int = 1, image_format: str = "jpg") -> WriteReport:
    """Render this shard's samples of ``count`` into the LMDB at ``out``, continuing any earlier run there."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}")
    indices = shard_indices(count, shard, num_shards)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    wanted = settings(generator, shard, num_shards, image_format)
    # The map is address space, not disk: a generous bound costs nothing and never fills up.
    env = lmdb.open(str(path), map_size=max(1 << 31, len(indices) * (1 << 16)), meminit=False)
    try:
        done, complete = _read_state(env, path, wanted)
        if done > len(indices):
            raise SynthError(f"{path} already holds {done} samples, more than this shard's {len(indices)} for "
                             f"--count {count}")
        report = WriteReport(path, done, 0, 0.0, 0)
        if done == len(indices) and complete:
            return report
        with env.begin(write=True) as txn:
            txn.put(CONFIG_KEY, json.dumps(wanted, sort_keys=True).encode())
            txn.put(fmt.NUM_SAMPLES_KEY, str(done).encode())
            txn.delete(fmt.COMPLETE_KEY)
        generator.backgrounds.preload()
        start = last_log = time.perf_counter()
        progress = bar(total=len(indices), desc=f"synth {path.name}")
        progress.update(done)  # a resumed shard starts where the last run stopped
        for records, stats, skips in _results(generator, indices[done:], workers, image_format):
            with env.begin(write=True) as txn:
                for image, label, mask, boxes in records:
                    done += 1
                    for key, value in ((fmt.image_key(done), image), (fmt.label_key(done), label),
                                       (fmt.mask_key(done), mask), (fmt.boxes_key(done), boxes)):
                        txn.put(key, value)
                        report.bytes_written += len(key) + len(value)
                txn.put(fmt.NUM_SAMPLES_KEY, str(done).encode())
            report.written += len(records)
            report.stats.update(stats)
            report.skips.extend(skips)
            progress.update(len(records))
            if progress.disable and time.perf_counter() - last_log > PROGRESS_SECONDS:
                last_log = time.perf_counter()
                rate = report.written / (last_log - start)
                log.info("%s: %d/%d samples (%.0f images/s)", path, done, len(indices), rate)
        progress.close()
        with env.begin(write=True) as txn:
            txn.put(fmt.COMPLETE_KEY, b"1")
        report.total = done
        report.seconds = time.perf_counter() - start
        return report
    finally:
        env.close()
