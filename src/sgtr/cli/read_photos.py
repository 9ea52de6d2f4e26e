"""``sgtr read --detect``: find and read the words of whole photos, one output row per word, in reading order.

Formats: ``text`` (``PATH<TAB>TEXT<TAB>CONFIDENCE<TAB>x1,y1 x2,y2 x3,y3 x4,y4``), ``jsonl`` (one object per word:
path, word index, box, text, confidence, per-character probabilities, line, detection score, branches) and ``csv``
(a header, then ``path,word,line,text,confidence,x1,y1,...,x4,y4,detection`` rows). ``--annotate`` draws the boxes
and readings over the photo. The work lives in ``sgtr.inference.photo``; ``read.py`` opens the model and hands over.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from sgtr.cli.errors import CommandError
from sgtr.cli.read import DIGITS, _rounded

CORNER_DIGITS = 1  # pixels


def annotation_paths(target: Path, photos: list[str]) -> dict[str, Path]:
    """Where each photo's annotated image goes: ``target`` itself for one photo; for several, ``target`` is a folder
    holding ``<stem>.annotated.png`` per photo (numbered when stems repeat)."""
    if len(photos) == 1:
        return {photos[0]: target}
    out, used = {}, set()
    for photo in photos:
        stem, n = Path(photo).stem, 1
        name = f"{stem}.annotated.png"
        while name in used:
            n += 1
            name = f"{stem}-{n}.annotated.png"
        used.add(name)
        out[photo] = target / name
    return out


def run_photos(args: argparse.Namespace, recognizer, lexicon) -> int:
    from sgtr.data.images import BadImage
    from sgtr.data.skips import Skip, SkipLog
    from sgtr.inference.detection import DetectorMissing, TextDetector
    from sgtr.inference.photo import PhotoReader, annotate
    from sgtr.inference.preprocess import to_rgb
    from sgtr.inference.stream import expand_inputs

    try:
        reader = PhotoReader(recognizer, TextDetector(threads=args.threads))
    except DetectorMissing as exc:
        raise CommandError(str(exc)) from None
    paths, problems = expand_inputs(args.paths)
    skips = SkipLog()
    skips.extend(problems)
    annotated = annotation_paths(args.annotate, paths) if args.annotate is not None else {}
    whitelist = None if args.whitelist is None else list(args.whitelist)
    table = csv.writer(sys.stdout, lineterminator="\n") if args.format == "csv" else None
    if table is not None:
        table.writerow(["path", "word", "line", "text", "confidence",
                        *(f"{axis}{k}" for k in range(1, 5) for axis in "xy"), "detection"])
    photos = words = 0
    start = time.perf_counter()
    for path in paths:
        try:
            image = to_rgb(path)
        except BadImage as exc:
            skips.add(Skip(path, str(exc).removeprefix(f"{path}: ")))
            continue
        reading = reader.read(image, branches=args.branches, whitelist=whitelist, lexicon=lexicon)
        for index, word in enumerate(reading.words):
            _write(args.format, table, path, index, word)
        sys.stdout.flush()
        if path in annotated:
            out = annotated[path]
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                annotate(image, reading).save(out)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{out}: cannot write the annotated image ({exc})") from None
        photos += 1
        words += len(reading.words)
    seconds = time.perf_counter() - start
    skipped = skips.summary() if len(skips) else "none skipped"
    print(f"sgtr read: {words} words in {photos} photos read in {seconds:.1f} s ({reader.mode} mode), {skipped}",
          file=sys.stderr)
    return 0 if photos else 1


def _write(fmt: str, table, path: str, index: int, word) -> None:
    corners = [[round(v, CORNER_DIGITS) for v in point] for point in word.box]
    confidence = f"{word.confidence:.{DIGITS}f}"
    if fmt == "text":
        box = " ".join(f"{x:g},{y:g}" for x, y in corners)
        sys.stdout.write(f"{path}\t{word.text}\t{confidence}\t{box}\n")
    elif table is not None:
        table.writerow([path, index, word.line, word.text, confidence, *(v for point in corners for v in point),
                        f"{word.detection:.{DIGITS}f}"])
    else:
        record = {"path": path, "word": index, **_rounded(word.to_dict()), "box": corners}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
