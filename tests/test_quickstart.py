"""The README's quickstart, run as written at a tiny size: make synthetic data where the configs look for it, train,
evaluate on the validation split, read with the result. Only sizes change (sample counts, steps, the model's
width); the environment lines (``make setup``, ``setup-system.sh``) are what the suite itself runs in."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sgtr.cli.main import main
from tests.helpers.models import TINY_MODEL
from tests.helpers.render import font

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    readme = ROOT.joinpath("README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("sgtr ")]


def tiny(command: str) -> list[str]:
    argv = shlex.split(command)[1:]
    if argv[0] == "synth":
        count = "24" if "data/synth/train" in argv else "8"
        argv = [count if prev == "--count" else a for prev, a in zip(["", *argv], argv)]
        argv += ["--fonts", font(), "--no-system-fonts", "--workers", "1"]
    if argv[0] == "train":
        argv = [re.sub(r"^trainer\.max_steps=\d+$", "trainer.max_steps=2", a) for a in argv]
        argv += [f"model.options={TINY_MODEL}", "data.batch_size=4", "data.workers=0", "trainer.val_every=2",
                 "trainer.threads=1", "trainer.accelerator=cpu"]
    if argv[0] == "read":
        argv += ["--workers", "0"]
    return argv


def test_readme_quickstart_names_each_step():
    steps = [shlex.split(c)[1] for c in quickstart_commands()]
    assert steps == ["synth", "synth", "train", "evaluate", "read"]


@pytest.mark.slow
def test_readme_quickstart_runs_on_a_fresh_clone(tmp_path, monkeypatch, shared_data, capsys):
    for name in ("configs", "splits", "samples"):  # a clone's contents, without its ignored data/ and runs/
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    for command in quickstart_commands():
        argv = tiny(command)
        assert main(argv) == 0, (command, capsys.readouterr().err[-2000:])
    assert (tmp_path / "runs" / "quickstart" / "checkpoints" / "best.ckpt").is_file()
    out = capsys.readouterr().out
    assert sum(line.startswith("samples/word_") for line in out.splitlines()) == 12
