"""``sgtr train CONFIG [key=value ...]``: train a recognizer from a YAML config with command-line overrides."""

from __future__ import annotations

import argparse

from sgtr.cli.errors import CommandError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a recognizer from a YAML config",
        description="Train a recognizer. CONFIG is a YAML file (see configs/); overrides such as "
                    "trainer.max_steps=500 or 'data.train=[{path: data/synth, ratio: 1}]' change single keys. "
                    "For several GPUs or nodes launch with torchrun or SLURM and set trainer.devices/num_nodes.")
    parser.add_argument("config", help="YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (values parsed as YAML)")
    parser.add_argument("--resume", metavar="CKPT", help="checkpoint to resume from, or 'auto' for OUT/checkpoints/"
                                                          "last.ckpt when it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgtr.engine.config import ConfigError, load_config
    from sgtr.engine.console import lightning_quiet
    from sgtr.engine.system import NonFiniteLossError
    from sgtr.engine.trainer import train
    from sgtr.serialization import CheckpointError

    try:
        config = load_config(args.config, args.overrides)
        with lightning_quiet():
            best = train(config, resume=args.resume)
    # Only sgtr's own errors are a user's mistake, told in one line; anything else is a bug and keeps its traceback.
    except (ConfigError, CheckpointError, NonFiniteLossError) as exc:
        raise CommandError(str(exc)) from None
    print(f"best checkpoint: {best}")
    return 0
