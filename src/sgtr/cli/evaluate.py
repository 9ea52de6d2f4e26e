"""``sgtr evaluate``: score a model, a predictions file or a peer engine on named sets under one protocol.

With no source the bundled default model is scored; with no set, every set under ``../shared/data/benchmarks`` (next
to the checkout). Prints the Markdown table to stdout and the skip summary to stderr; ``--json`` and ``--errors``
write the full result (with every sample's reading) and the wrong predictions. With a model, ``--branches`` adds one
table per branch of the model (``vr``, ``lm``, ``gtr``, ``fused``), scored from the readings the same forward passes
recorded. The work itself lives in ``sgtr.evaluation``; this module turns arguments into sets and a source and user
mistakes into one-line ``CommandError``s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sgtr.cli.arguments import non_negative_int, positive_int
from sgtr.cli.errors import CommandError
from sgtr.evaluation.benchmarks import DEFAULT_ROOT
from sgtr.evaluation.protocols import PROTOCOLS

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".onnx")  # an ONNX export runs in ONNX Runtime
# The keys of sgtr.evaluation.sources.ENGINES, spelled out so that --help does not import PIL and numpy.
ENGINE_NAMES = ("tesseract", "rapidocr", "rapidocr-v4")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", usage="sgtr evaluate [MODEL] [SET_OR_ROOT ...] "
                          "[--predictions FILE | --engine {tesseract,rapidocr,rapidocr-v4}] [options]",
        help="word accuracy and 1-NED of a model, a predictions file or a peer engine on benchmark sets",
        description="Score one prediction source on sets under one protocol. Each SET_OR_ROOT is a set (a folder "
                    "with labels.tsv or gt.txt, an LMDB folder) or a folder holding sets, under any name (ours or "
                    "the public bundles'). A first argument ending in .safetensors, .ckpt or .onnx is a model to "
                    "evaluate; with no model, --predictions or --engine, the bundled default model is. With no set, "
                    f"every set under {DEFAULT_ROOT} is scored. The means count each benchmark once.")
    p.add_argument("inputs", nargs="*", metavar="SET_OR_ROOT", help="sets or folders of sets, after an optional "
                   "model file")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--predictions", type=Path, metavar="FILE",
                        help="PATH<TAB>TEXT[<TAB>CONFIDENCE] lines; relative paths are taken from the file's folder, "
                             "LMDB samples are DIR#N")
    source.add_argument("--engine", choices=ENGINE_NAMES, help="a peer engine to compare against")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="36",
                   help="36: case-insensitive [0-9a-z] (default, as in papers); 62: case-sensitive [0-9a-zA-Z]; "
                        "94: printable ASCII without space; raw: exact after NFC")
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="N")
    p.add_argument("--workers", type=non_negative_int, default=0, metavar="N", help="data-loading worker processes")
    p.add_argument("--limit", type=positive_int, metavar="N", help="score only the first N samples of each set")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="write the full result as JSON, with every scored sample's reading (for sgtr compare); "
                        "with --branches also FILE.BRANCH.json per branch")
    p.add_argument("--errors", type=Path, metavar="FILE", help="write each wrong prediction as a JSON line")
    p.add_argument("--branches", action="store_true",
                   help="with a model: also one table per branch of the model (e.g. vr, lm, gtr, fused), from "
                        "the same forward passes; a sample whose image could not be read counts as missing there")
    p.set_defaults(func=run)


def checkpoint_source(path: Path | None, batch_size: int = 32):
    """The model at ``path`` (None: the bundled one) as a prediction source, or a one-line error."""
    from sgtr.evaluation.model_source import ModelSource
    from sgtr.serialization import CheckpointError

    try:
        return ModelSource(path, batch_size)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None


def open_sets(inputs: list[str]) -> dict:
    """Named datasets for the given sets and roots of sets; with none, every set under ``DEFAULT_ROOT``."""
    from sgtr.data.datasets import discover_sets, open_dataset

    if not inputs:
        if not DEFAULT_ROOT.is_dir():
            raise CommandError(f"no set given and {DEFAULT_ROOT} does not exist; name the sets to score")
        inputs = [str(DEFAULT_ROOT)]
    sets: dict = {}
    for text in inputs:
        root = Path(text)
        if not root.exists():
            raise CommandError(f"{root}: no such file or folder")
        try:
            for name, path in discover_sets(root).items():
                if name in sets:
                    name = str(path)  # two roots with a set of the same name: tell them apart by path
                if name in sets:
                    raise CommandError(f"{path} is given twice")
                sets[name] = open_dataset(path, with_masks=False)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    return sets


def _open_source(args: argparse.Namespace, checkpoint: Path | None):
    from sgtr.evaluation.sources import ENGINES, PredictionsFile, SourceError

    if args.predictions is None and args.engine is None:
        source = checkpoint_source(checkpoint, args.batch_size)
        source.branches = args.branches
        return source
    try:
        if args.predictions is not None:
            return PredictionsFile(args.predictions)
        return ENGINES[args.engine]()
    except (OSError, ValueError, SourceError) as exc:
        raise CommandError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from sgtr.data.skips import SkipLog
    from sgtr.evaluation.evaluator import evaluate
    from sgtr.evaluation.model_source import RecordedBranch
    from sgtr.evaluation.protocols import get_protocol
    from sgtr.evaluation.report import to_markdown, write_json

    inputs = list(args.inputs)
    checkpoint = None
    if inputs and inputs[0].lower().endswith(CHECKPOINT_SUFFIXES):
        checkpoint = Path(inputs.pop(0))
        if not checkpoint.is_file():
            raise CommandError(f"{checkpoint}: no such model file")
    if sum(x is not None for x in (checkpoint, args.predictions, args.engine)) > 1:
        raise CommandError("give one source: a model file, --predictions FILE or --engine NAME (none: the bundled "
                           "default model)")
    if args.branches and (args.predictions is not None or args.engine is not None):
        raise CommandError("--branches needs a model: only a model has branches")

    if args.json is not None and not args.json.parent.is_dir():
        raise CommandError(f"{args.json.parent}: no such folder for --json")  # say so before a long run, not after
    sets = open_sets(inputs)
    # An empty label list fails before a model is loaded; a set of unreadable samples once they have been tried.
    _check_scored([(name, len(dataset)) for name, dataset in sets.items()], "no samples listed")
    empty_sets = {name for name, dataset in sets.items() if not len(dataset)}
    source = _open_source(args, checkpoint)
    skips = SkipLog()
    try:
        errors = args.errors.open("w", encoding="utf-8") if args.errors else None
    except OSError as exc:
        raise CommandError(f"{args.errors}: {exc.strerror}") from None
    try:
        result = evaluate(sets, source, get_protocol(args.protocol), batch_size=args.batch_size,
                          workers=args.workers, limit=args.limit, skips=skips, errors=errors)
    finally:
        if errors is not None:
            errors.close()
    _check_scored([(s.name, s.scored) for s in result.sets if s.name not in empty_sets],
                  "no readable sample with a non-empty label")
    print(to_markdown(result), end="")
    results = {args.json: result} if args.json is not None else {}
    for branch, readings in getattr(source, "branch_readings", {}).items():
        replay = RecordedBranch(f"{source.name} [{branch}]", readings)
        branch_result = evaluate(sets, replay, get_protocol(args.protocol), batch_size=args.batch_size,
                                 workers=args.workers, limit=args.limit)
        print("\n" + to_markdown(branch_result), end="")
        if args.json is not None:  # FILE.json → FILE.BRANCH.json: branches compared pairwise with ``sgtr compare``
            results[args.json.with_name(f"{args.json.stem}.{branch}{args.json.suffix}")] = branch_result
    print(skips.summary(), file=sys.stderr)
    for path, scored in results.items():
        try:
            write_json(scored, path)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
    return 0


def _check_scored(names_and_counts: list[tuple[str, int]], what: str) -> None:
    """Sets with nothing to score are an error when no set has anything, and a warning beside sets that do."""
    import logging

    empty = [name for name, count in names_and_counts if not count]
    if len(empty) == len(names_and_counts):
        raise CommandError(f"nothing to score in {', '.join(empty)}: {what}")
    for name in empty:
        logging.getLogger("sgtr.evaluation").warning("%s: nothing to score (%s)", name, what)
