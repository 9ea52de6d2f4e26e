"""``sgtr compare A B``: the accuracy gap of two models per set, with a paired bootstrap interval and McNemar's test.

A and B are each an ``sgtr evaluate --json`` file or a model file (scored here on the given sets, or on every set
under the shared benchmarks). The statistics live in ``sgtr.evaluation.comparison``; this module parses, scores
model files through ``sgtr evaluate``'s own helpers and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sgtr.cli.arguments import positive_int
from sgtr.cli.errors import CommandError
from sgtr.cli.evaluate import CHECKPOINT_SUFFIXES, checkpoint_source, open_sets
from sgtr.evaluation.protocols import PROTOCOLS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", usage="sgtr compare A B [SET_OR_ROOT ...] [options]",
        help="the accuracy gap of two models per set, with a bootstrap 95%% interval and McNemar's test",
        description="Compare two models sample by sample on the same sets. A and B are each an 'sgtr evaluate "
                    "--json' file or a model file (.safetensors, .ckpt, .onnx); model files are scored on the "
                    "SET_OR_ROOT arguments (default: every set under the shared benchmarks). Prints per set the "
                    "gap A − B in accuracy points, its paired bootstrap 95% interval and McNemar's exact p-value, "
                    "then the same for the mean over distinct sets.")
    p.add_argument("a", type=Path, metavar="A", help="evaluation JSON or model file")
    p.add_argument("b", type=Path, metavar="B", help="evaluation JSON or model file")
    p.add_argument("inputs", nargs="*", metavar="SET_OR_ROOT", help="sets to score model files on")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="36", help="for model files (default 36)")
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="N")
    p.add_argument("--limit", type=positive_int, metavar="N", help="model files: score the first N samples per set")
    p.add_argument("--resamples", type=positive_int, default=2000, metavar="N", help="bootstrap resamples (2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
    p.set_defaults(func=run)


def _result(path: Path, args: argparse.Namespace, sets: dict | None) -> tuple[dict, dict | None]:
    """One side as an evaluation result dict; ``sets`` are opened on the first model file and reused."""
    from sgtr.evaluation.comparison import load_result
    from sgtr.evaluation.evaluator import evaluate
    from sgtr.evaluation.protocols import get_protocol
    from sgtr.evaluation.report import to_dict

    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if not path.name.lower().endswith(CHECKPOINT_SUFFIXES):
        try:
            return load_result(path), sets
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
    sets = sets if sets is not None else open_sets(list(args.inputs))
    result = evaluate(sets, checkpoint_source(path, args.batch_size), get_protocol(args.protocol),
                      batch_size=args.batch_size, limit=args.limit)
    return to_dict(result), sets


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from sgtr.evaluation.comparison import compare
    from sgtr.evaluation.report import comparison_to_markdown

    if args.json is not None and not args.json.parent.is_dir():
        raise CommandError(f"{args.json.parent}: no such folder for --json")
    a, sets = _result(args.a, args, None)
    b, sets = _result(args.b, args, sets)
    if args.inputs and sets is None:
        print("sgtr compare: the sets given are not used: A and B are both evaluation files", file=sys.stderr)
    try:
        comparison = compare(a, b, resamples=args.resamples, seed=args.seed, names=(str(args.a), str(args.b)))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(comparison_to_markdown(comparison), end="")
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(dataclasses.asdict(comparison), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{args.json}: {exc.strerror}") from None
    return 0
