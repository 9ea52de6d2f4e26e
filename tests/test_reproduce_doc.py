"""docs/reproduce.md's training commands, as written: each names a config that loads with its overrides."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sgtr.engine.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def train_commands() -> list[list[str]]:
    """The arguments after ``train`` of every ``sgtr train`` line in the doc's shell blocks (continuations joined)."""
    text = ROOT.joinpath("docs", "reproduce.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split("  #")[0] for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    commands = []
    for line in lines:
        argv = shlex.split(line, comments=True)
        if "train" in argv and any(a.startswith("configs/") for a in argv):
            commands.append(argv[argv.index("train") + 1:])
    return commands


def test_the_doc_has_training_commands():
    assert len(train_commands()) >= 8


@pytest.mark.parametrize("argv", train_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_each_training_command_loads_its_config_with_its_overrides(argv):
    config, *rest = argv
    overrides = [a for a in rest if "=" in a and not a.startswith("-")]
    assert load_config(ROOT / config, overrides)["model"]["name"]
