"""Runs killed with SIGKILL at seeded random moments: training resumes from its last checkpoint, and the writers of
``sgtr data create-lmdb`` and ``sgtr synth`` leave output that is complete or clearly incomplete and that a rerun
finishes. Each run is a real ``sgtr`` process, killed the way an out-of-memory killer or a preempted job would be.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import numpy as np
import pytest
import yaml
from PIL import Image

from sgtr.cli.main import main
from sgtr.data import lmdb_format as fmt
from sgtr.data.datasets import LmdbDataset
from sgtr.data.sample import Sample
from sgtr.engine.trainer import resolve_resume, train
from sgtr.serialization import load_safe
from tests.helpers.data import contents
from tests.helpers.engine import tiny_config, tiny_lmdb
from tests.helpers.render import font

# Every test here starts real sgtr processes and waits for them.
pytestmark = pytest.mark.slow

# Generous: a loaded CI machine starts Python, torch and Lightning slowly.
START_TIMEOUT = 240.0
POLL = 0.02


def launch(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "sgtr.cli.main", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))


def wait_until(condition, proc: subprocess.Popen, log: Path, what: str) -> None:
    """Poll ``condition`` while ``proc`` runs; fail with the process's output if it ends or takes too long first."""
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"process ended (status {proc.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} after {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(POLL)


def kill_after(proc: subprocess.Popen, seconds: float) -> None:
    """SIGKILL after a random delay: the delay is the kill moment under test, not a wait for anything."""
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the process finished before it could be killed"


# ---- training -----------------------------------------------------------------------------------------------------
MAX_STEPS = 30


def identity(path: Path) -> tuple[int, int] | None:
    """Which file is at ``path`` now: every atomic save renames a new file over it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def test_training_killed_three_times_resumes_each_time_from_an_intact_last_checkpoint(shared_data, tmp_path):
    data = tiny_lmdb(shared_data, tmp_path / "lmdb")
    out = tmp_path / "run"
    # A checkpoint after every step, so kills land before, during and after checkpoint writes.
    config = tiny_config(data, out, max_steps=MAX_STEPS, val_every=1, precision="32-true")
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))
    last = out / "checkpoints" / "last.ckpt"
    rng = random.Random(9)
    step = 0
    for attempt in range(3):
        log = tmp_path / f"train{attempt}.log"
        seen = identity(last)
        proc = launch(["train", str(config_file), "--resume", "auto"], log)
        wait_until(lambda seen=seen: identity(last) not in (None, seen), proc, log, "a new checkpoint")
        first = load_safe(last)["global_step"]
        assert first > step, f"launch {attempt} restarted at step {first} instead of continuing after {step}"
        kill_after(proc, rng.uniform(0.0, 0.6))
        # Whatever the moment, the latest checkpoint is a whole one that the safe loader reads and resume picks.
        assert resolve_resume("auto", config) == str(last)
        step = load_safe(last)["global_step"]
        assert first <= step < MAX_STEPS
        assert [p.name for p in last.parent.glob("*.ckpt")] == ["last.ckpt"]

    train(config, resume="auto")
    final = load_safe(last)
    assert final["global_step"] == MAX_STEPS
    adam_steps = {float(s["step"]) for s in final["optimizer_states"][0]["state"].values()}
    assert adam_steps == {float(MAX_STEPS)}  # the optimiser state came through every kill too
    newest_log = max((out / "csv").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    rows = [r.split(",") for r in newest_log.read_text().splitlines()]
    loss_col = rows[0].index("train/loss")
    logged = sorted(int(r[rows[0].index("step")]) for r in rows[1:] if r[loss_col])
    assert logged == list(range(step, MAX_STEPS))  # the last launch began at the last checkpoint's step


# ---- sgtr data create-lmdb ----------------------------------------------------------------------------------------
def image_folder(root: Path, lines: int) -> Path:
    """A labels.tsv of ``lines`` entries over a few small images, one of them corrupt."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (12, 32, 3), dtype=np.uint8)).save(root / f"{i}.png")
    (root / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    entries = [f"{i % 8}.png\tword{i}" for i in range(lines)]
    entries[lines // 2] = "bad.png\tbroken"
    (root / "labels.tsv").write_text("\n".join(entries) + "\n")
    return root


def test_create_lmdb_killed_midway_leaves_no_database_and_a_rerun_builds_the_whole_one(tmp_path, capsys):
    src = image_folder(tmp_path / "src", 6000)
    out, partial = tmp_path / "db", tmp_path / ".db.partial"
    log = tmp_path / "create.log"
    proc = launch(["data", "create-lmdb", str(src), str(out)], log)
    # The writer commits every 1,000 samples; once the first commit is on disk it is midway.
    wait_until(lambda: (partial / "data.mdb").is_file() and (partial / "data.mdb").stat().st_size > 64 * 1024,
               proc, log, "a first commit")
    kill_after(proc, random.Random(4).uniform(0.0, 0.1))

    assert not out.exists()  # the database appears only when complete
    with pytest.raises(ValueError, match=r"\.db\.partial"):
        LmdbDataset(partial)  # the leftover cannot pass for a dataset either

    assert main(["data", "create-lmdb", str(src), str(out)]) == 0
    assert "wrote 5999 samples" in capsys.readouterr().out
    assert not partial.exists()
    assert main(["data", "create-lmdb", str(src), str(tmp_path / "fresh")]) == 0
    assert contents(out) == contents(tmp_path / "fresh")


# ---- sgtr synth ---------------------------------------------------------------------------------------------------
def committed_samples(db: Path) -> int:
    """``num-samples`` as last committed, read through LMDB's reader lock (safe beside the running writer); 0 while
    the database does not exist yet."""
    try:
        env = lmdb.open(str(db), readonly=True, subdir=True, max_readers=4)
    except lmdb.Error:
        return 0
    try:
        with env.begin() as txn:
            return int(txn.get(fmt.NUM_SAMPLES_KEY) or 0)
    finally:
        env.close()


def test_synth_killed_midway_is_marked_incomplete_and_a_rerun_gives_the_uninterrupted_contents(tmp_path, caplog):
    args = ["synth", "--fonts", font(), "--no-system-fonts", "--no-system-backgrounds", "--workers", "1",
            "--count", "600"]
    db, log = tmp_path / "db", tmp_path / "synth.log"
    proc = launch([*args, "--out", str(db)], log)
    # LMDB writes pages before it commits, so the file's size says nothing: wait for a committed count.
    wait_until(lambda: committed_samples(db) > 0, proc, log, "a first committed chunk")
    kill_after(proc, random.Random(5).uniform(0.0, 0.3))

    partial = contents(db)
    done = int(partial[fmt.NUM_SAMPLES_KEY])
    assert 0 < done < 600 and done % 256 == 0  # a whole number of committed chunks
    assert fmt.COMPLETE_KEY not in partial  # and marked unfinished
    assert fmt.image_key(done) in partial and fmt.image_key(done + 1) not in partial
    shutil.copytree(db, tmp_path / "copy")  # the reader keeps its database open, and the rerun below needs db
    with caplog.at_level(logging.WARNING, logger="sgtr.data"):
        dataset = LmdbDataset(tmp_path / "copy")
    assert "interrupted" in caplog.text and len(dataset) == done
    assert isinstance(dataset[0], Sample) and isinstance(dataset[done - 1], Sample)

    assert main([*args, "--out", str(db)]) == 0
    assert main([*args, "--out", str(tmp_path / "fresh")]) == 0
    assert contents(db) == contents(tmp_path / "fresh")
