"""``sgtr data``: dataset tools — ``create-lmdb`` (label list → standard LMDB), ``inspect`` (statistics), ``split``
(a deterministic validation split of labels.tsv sets, written by ``sgtr.data.split``) and ``synthtext-crops``
(SynthText's scenes → word crops with character masks, made by ``sgtr.data.synthtext``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sgtr.cli.errors import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="create and inspect datasets",
                                   description="Create and inspect datasets.")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    create = sub.add_parser("create-lmdb", help="write a standard STR LMDB from a labels.tsv folder or a gt.txt",
                            description="Validate every image of a labels.tsv folder or a gt.txt list (PATH LABEL "
                                        "lines) and write the standard STR LMDB. Bad samples are named and skipped; "
                                        "the database appears only when complete.")
    create.add_argument("src", type=Path, help="folder holding labels.tsv or gt.txt, or the list file itself")
    create.add_argument("out", type=Path, help="folder of the new LMDB")
    create.add_argument("--charset", help="also skip labels this charset (36, 62, 94 or a file) cannot encode")
    create.add_argument("--max-length", type=int, default=25, help="longest label kept with --charset (default 25)")
    create.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    create.set_defaults(func=run_create)

    inspect = sub.add_parser("inspect", help="sample count, label lengths, charset coverage, image sizes, bad samples",
                             description="Read a dataset (labels.tsv folder, gt.txt, LMDB or a root of LMDBs) and "
                                         "report its statistics.")
    inspect.add_argument("path", type=Path)
    inspect.add_argument("--charset", default="36", help="charset for the coverage report (default 36)")
    inspect.add_argument("--max-length", type=int, default=25)
    inspect.add_argument("--limit", type=int, help="read only the first N samples")
    inspect.add_argument("--json", type=Path, help="also write the report as JSON to this file")
    inspect.set_defaults(func=run_inspect)

    split = sub.add_parser("split", help="hold back a deterministic validation split of labels.tsv sets",
                           description="Send each sample of every labels.tsv set under ROOT to validation or "
                                       "training by a hash of its set name and path (the same split on every "
                                       "machine), and write OUT/val/SET/labels.tsv and OUT/train/SET/labels.tsv "
                                       "with paths relative to the new files. Existing files there are replaced.")
    split.add_argument("root", type=Path, metavar="ROOT", help="a labels.tsv set, or a folder of such sets")
    split.add_argument("--out", type=Path, default=Path("splits"), help="output folder (default: splits)")
    split.add_argument("--val-fraction", type=float, default=0.1, metavar="F",
                       help="share of each set held back for validation, in (0, 1) (default 0.1)")
    split.set_defaults(func=run_split)

    crops = sub.add_parser("synthtext-crops", help="SynthText's scenes -> upright word crops with character masks",
                           description="Read SynthText's gt.mat and images, rectify every word box to an upright "
                                       "crop and write an LMDB whose samples carry per-character masks made from "
                                       "the character boxes. Bad entries are named and skipped; the database "
                                       "appears only when complete. Needs scipy (the synthtext extra).")
    crops.add_argument("src", type=Path, metavar="SYNTHTEXT_DIR", help="folder holding gt.mat and the images")
    crops.add_argument("out", type=Path, metavar="OUT", help="folder of the new LMDB")
    crops.add_argument("--min-height", type=int, default=16, metavar="H",
                       help="crops are the word's own height, at least H pixels (default 16)")
    crops.add_argument("--max-height", type=int, default=64, metavar="H",
                       help="and at most H pixels (default 64); equal bounds give every crop one height")
    crops.add_argument("--charset", help="also skip words this charset (36, 62, 94 or a file) cannot encode")
    crops.add_argument("--max-length", type=int, default=25, help="longest word kept with --charset (default 25)")
    crops.add_argument("--image-format", choices=("jpg", "png"), default="jpg",
                       help="crop encoding: jpg (quality 95, 4:4:4, the default) or png")
    crops.add_argument("--limit", type=int, metavar="N", help="read only the first N images of gt.mat")
    crops.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    crops.set_defaults(func=run_synthtext_crops)


def _charset(spec: str | None, max_length: int):
    from sgtr.data.charset import Charset

    if spec is None:
        return None
    try:
        return Charset.from_spec(spec, max_length=max_length)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _label_file(src: Path) -> Path:
    from sgtr.data.datasets import label_file_in

    if src.is_file():
        return src
    if src.is_dir():
        found = label_file_in(src)
        if found is not None:
            return found
        raise CommandError(f"{src}: holds no labels.tsv or gt.txt")
    raise CommandError(f"{src}: no such file or folder")


def run_create(args: argparse.Namespace) -> int:
    from sgtr.data.labels import parse_label_file
    from sgtr.data.lmdb_writer import create_lmdb
    from sgtr.data.skips import SkipLog

    charset = _charset(args.charset, args.max_length)
    if args.out.exists() and not args.overwrite:  # refused before any sample is read
        raise CommandError(f"{args.out} already exists; pass --overwrite to replace it")
    try:
        items, list_skips = parse_label_file(_label_file(args.src))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    skips = SkipLog()
    skips.extend(list_skips)
    try:
        report = create_lmdb(items, args.out, charset=charset, skips=skips, overwrite=args.overwrite)
    except FileExistsError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {report.written} samples to {args.out}; {skips.summary()}")
    return 0 if report.written else 1


def run_inspect(args: argparse.Namespace) -> int:
    from sgtr.data.datasets import open_dataset
    from sgtr.data.inspection import format_inspection, inspect_dataset
    from sgtr.data.skips import SkipLog
    from sgtr.engine.data import protocol_for

    charset = _charset(args.charset, args.max_length)
    try:
        dataset = open_dataset(args.path)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    skips = SkipLog(quiet=True)  # the report lists every bad sample once
    skips.extend(getattr(dataset, "list_skips", []))
    report = inspect_dataset(dataset, charset, skips, limit=args.limit, clean=protocol_for(charset).clean)
    print(format_inspection(str(args.path), report, charset))
    if report.bad:
        print("\nbad samples:")
        for line in report.bad:
            print(f"  {line}")
    print(skips.summary(), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return 0


def run_split(args: argparse.Namespace) -> int:
    from sgtr.data.split import plan_split, write_split

    try:
        plan = plan_split(args.root, args.out, args.val_fraction)
    except (OSError, ValueError) as exc:  # a missing root, a malformed line (UnicodeDecodeError is a ValueError)
        raise CommandError(str(exc)) from None
    try:
        write_split(plan)
    except OSError as exc:
        raise CommandError(f"{exc.filename or args.out}: cannot write ({exc.strerror})") from None
    for name, counts in plan.counts.items():
        print(f"{name}: {counts['val']} val, {counts['train']} train")
    print(f"wrote {len(plan.files)} files under {args.out}")
    return 0


def run_synthtext_crops(args: argparse.Namespace) -> int:
    from sgtr.data.synthtext import CropSize, SynthTextError, write_synthtext_crops

    charset = _charset(args.charset, args.max_length)
    try:
        size = CropSize(args.min_height, args.max_height)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if not args.src.is_dir():
        raise CommandError(f"{args.src}: no such folder")
    try:
        report = write_synthtext_crops(args.src, args.out, size=size, charset=charset,
                                       image_format=args.image_format, limit=args.limit, overwrite=args.overwrite)
    except FileExistsError:
        raise CommandError(f"{args.out} already exists; pass --overwrite to replace it") from None
    except SynthTextError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {report.written} word crops from {report.images} images to {args.out}; {report.skips.summary()}")
    return 0 if report.written else 1
