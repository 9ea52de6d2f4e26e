"""The wheel: built from the repository's tracked files, installed with torch into a fresh virtual environment (no
system site-packages, nothing of this checkout on its path), it reads the bundled samples with the bundled model."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # the Makefile's pin: the CPU build on the build machines


def _run(*argv, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def _clone(dest: Path) -> Path:
    """The tracked files only, as a fresh clone has them."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know which files a clone holds")
    files = _run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_reads_the_samples(tmp_path):
    clone = _clone(tmp_path / "clone")
    _run(sys.executable, "-m", "pip", "wheel", clone, "--no-deps", "--no-build-isolation", "-q", "-w",
         tmp_path / "dist", cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("sgtr-*.whl"))
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)  # no --system-site-packages: only what pip installs
    _run(venv / "bin" / "pip", "install", "-q", TORCH, wheel, cwd=tmp_path)

    where = _run(venv / "bin" / "python", "-c", "import sgtr; print(sgtr.__file__)", cwd=tmp_path).stdout
    assert where.strip().startswith(str(venv))
    done = _run(venv / "bin" / "sgtr", "read", clone / "samples", cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert len(lines) == 12 and all(len(line.split("\t")) == 3 for line in lines)
    assert "12 images read" in done.stderr
