"""``sgtr read``: read the text of word images — files, folders, globs or ``@list`` files — with any sgtr model.

Results go to stdout as they come, batch by batch (``text``: ``PATH<TAB>TEXT<TAB>CONFIDENCE``, the predictions format
``sgtr evaluate --predictions`` reads; ``jsonl``; ``csv``); each unreadable file is named once on stderr and skipped,
and a summary line ends stderr. Exit status 0 when at least one image was read, 1 when none was, 2 on a usage error.
The work lives in ``sgtr.inference`` (``Recognizer``, ``stream``); this module wires arguments to it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from sgtr.cli.arguments import non_negative_int, positive_int
from sgtr.cli.errors import CommandError

FORMATS = ("text", "jsonl", "csv")
DIGITS = 4  # probabilities in the output
# In the text format a tab or line break inside a path would split its line; they are written as \t, \n, \r.
# Backslashes stay as they are: charset 94 reads them, and the predictions format has always kept them.
TEXT_ESCAPES = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "read", help="read the text of word images",
        description="Read the text of cropped word images. Each PATH is an image file, a folder (searched "
                    "recursively for image files), a glob ('imgs/**/*.png', quoted) or @LIST, a file with one such "
                    "argument per line. Images are brought to the model's trained input geometry: stretched to it, or "
                    "scaled to its height with the aspect ratio kept and padded, as the model was trained.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="a .ckpt training checkpoint, a .safetensors weights file or an .onnx export "
                        "(default: the bundled model)")
    p.add_argument("--runtime", choices=("torch", "onnx"),
                   help="PyTorch or ONNX Runtime (default: onnx for .onnx models, else torch)")
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU when there is one), cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="compute threads of PyTorch or ONNX Runtime (default: half the CPUs, at least 1)")
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="N")
    p.add_argument("--width-buckets", type=non_negative_int, default=0, metavar="N",
                   help="cut each batch to the smallest multiple of N columns that holds its widest crop (PyTorch, "
                        "models that keep the aspect ratio): faster, but the imported network reads less well "
                        "narrower than it was trained (docs/inference.md); default 0: off")
    p.add_argument("--workers", type=non_negative_int, default=2, metavar="N",
                   help="image-decoding worker processes (0: decode in the main process)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text: PATH<TAB>TEXT<TAB>CONFIDENCE lines (tabs and line breaks in paths written as \\t, \\n, "
                        "\\r); jsonl: one JSON object per image with "
                        "per-character probabilities; csv: a header, then path,text,confidence rows")
    p.add_argument("--branches", action="store_true",
                   help="also print each branch's reading (e.g. vr, lm, gtr, fused for S-GTR)")
    p.add_argument("--whitelist", metavar="CHARS", help="allow only these characters in the output")
    p.add_argument("--lexicon", type=Path, metavar="FILE",
                   help="one word per line: replace each reading with the closest word (edit distance)")
    p.add_argument("--rotate-vertical", action=argparse.BooleanOptionalAction, default=True,
                   help="also read crops taller than 1.5x their width turned by +-90 degrees and keep the most "
                        "confident reading (default: on)")
    p.add_argument("--detect", action="store_true",
                   help="each PATH is a photo: find its text lines (the rapidocr wheel's detector) and print one "
                        "row per word, in reading order, with its box")
    p.add_argument("--annotate", type=Path, metavar="OUT.png",
                   help="with --detect: draw the boxes and readings over the photo to OUT.png (several photos: "
                        "OUT is a folder, one <name>.annotated.png each)")
    p.set_defaults(func=run)


class Writer:
    """One output format: ``write`` each batch of (path, reading) pairs as it comes."""

    def __init__(self, fmt: str, out: TextIO, branches: bool):
        self.fmt, self.out, self.branches = fmt, out, branches
        self.csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        self.branch_names: list[str] | None = None  # fixed by the first reading: the model's branches

    def write(self, rows: list) -> None:
        for path, reading in rows:
            if self.branch_names is None:
                self.branch_names = sorted(reading.branches) if self.branches else []
                if self.csv is not None:
                    self.csv.writerow(["path", "text", "confidence", *(f"branch_{n}" for n in self.branch_names)])
            confidence = f"{reading.confidence:.{DIGITS}f}"
            branch_texts = [reading.branches[n].text for n in self.branch_names]
            if self.fmt == "text":
                extra = "".join(f"\t{n}={t}" for n, t in zip(self.branch_names, branch_texts))
                line = "\t".join(field.translate(TEXT_ESCAPES) for field in (path, reading.text))
                self.out.write(f"{line}\t{confidence}{extra}\n")
            elif self.csv is not None:
                self.csv.writerow([path, reading.text, confidence, *branch_texts])
            else:
                self.out.write(json.dumps({"path": path, **_rounded(reading.to_dict())}, ensure_ascii=False) + "\n")
        self.out.flush()


def _rounded(value):
    """Probabilities to ``DIGITS`` decimals, inside any nesting of dicts and lists."""
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _open(args: argparse.Namespace):
    """The recognizer, the lexicon and the whitelist, or a one-line ``CommandError``."""
    from sgtr.data.charset import UNK_SYMBOL
    from sgtr.inference.lexicon import Lexicon
    from sgtr.inference.predictor import Recognizer
    from sgtr.models.decoding import allowed_classes
    from sgtr.serialization import CheckpointError

    try:
        recognizer = Recognizer(args.model, runtime=args.runtime, device=args.device, batch_size=args.batch_size,
                                threads=args.threads, width_buckets=args.width_buckets)
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    charset = recognizer.charset
    lexicon = None
    if args.lexicon is not None:
        try:
            lexicon = Lexicon.from_file(args.lexicon, charset)
        except OSError as exc:
            raise CommandError(f"{args.lexicon}: cannot read lexicon ({exc.strerror})") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{args.lexicon}: {exc}") from None
        if lexicon.skipped:
            print(f"sgtr read: {len(lexicon.skipped)} lexicon words set aside, charset {charset.name!r} cannot write "
                  f"them (e.g. {lexicon.skipped[0]!r})", file=sys.stderr)
    if args.whitelist is not None:
        try:
            allowed_classes(charset, args.whitelist, charset.num_classes)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        symbols = set(charset.symbols) | {UNK_SYMBOL}
        outside = sorted({c for c in args.whitelist if charset.normalize(c) not in symbols})
        if outside:
            print(f"sgtr read: --whitelist characters outside charset {charset.name!r} ignored: "
                  f"{''.join(outside)!r}", file=sys.stderr)
    return recognizer, lexicon


def run(args: argparse.Namespace) -> int:
    from sgtr.data.skips import Skip, SkipLog
    from sgtr.inference.stream import expand_inputs, prepared_batches
    from sgtr.progress import bar

    if args.annotate is not None and not args.detect:
        raise CommandError("--annotate draws detected words: add --detect")
    recognizer, lexicon = _open(args)
    if args.detect:
        from sgtr.cli.read_photos import run_photos

        return run_photos(args, recognizer, lexicon)
    paths, problems = expand_inputs(args.paths)
    skips = SkipLog()
    skips.extend(problems)
    writer = Writer(args.format, sys.stdout, args.branches)
    whitelist = None if args.whitelist is None else list(args.whitelist)
    read, start = 0, time.perf_counter()
    progress = bar(total=len(paths), desc="reading")
    for batch in prepared_batches(paths, recognizer.preprocessor(args.rotate_vertical), args.batch_size,
                                  args.workers):
        progress.update(len(batch))
        skips.extend(item for _, item in batch if isinstance(item, Skip))
        good = [(path, item) for path, item in batch if not isinstance(item, Skip)]
        readings = recognizer.read_prepared([item for _, item in good], branches=args.branches,
                                            whitelist=whitelist, lexicon=lexicon)
        writer.write([(path, reading) for (path, _), reading in zip(good, readings)])
        read += len(good)
    progress.close()
    seconds = time.perf_counter() - start
    if args.branches and read and not writer.branch_names:
        print("sgtr read: this model has no branch outputs (an ONNX file exported without --branches?)",
              file=sys.stderr)
    skipped = skips.summary() if len(skips) else "none skipped"
    print(f"sgtr read: {read} image{'' if read == 1 else 's'} read in {seconds:.1f} s, {skipped}", file=sys.stderr)
    return 0 if read else 1
