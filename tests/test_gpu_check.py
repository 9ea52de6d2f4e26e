"""scripts/gpu_check.sh and its Python side: the CPU dry run prints the figures, the verdict on the loss curve, the
report's exit status, and the dependency check that installs what does not import from a wheelhouse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
HELPER = ROOT / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    return load_script("gpu_check")


@pytest.mark.slow
def test_cpu_dry_run_prints_images_per_second_peak_memory_and_the_loss_curve(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(SCRIPT), "--cpu", "--tiny", "--steps", "3", "--count", "16", "--work",
                           str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"training: [\d.]+ images/s", done.stdout)
    assert re.search(r"peak memory: [\d.]+ GiB", done.stdout)
    assert re.search(r"loss curve \(step loss\): 0 [\d.]+, 1 [\d.]+, 2 [\d.]+", done.stdout)
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["model"] == "sgtr" and len(figures["losses"]) == 3 and figures["images_per_s"] > 0


def test_a_curve_falling_by_more_than_the_margin_fell(gpu_check):
    assert gpu_check.loss_fell([10, 9.5, 9, 8, 7, 6, 5, 5, 4.5, 4]) is True


@pytest.mark.parametrize("curve", [[5.0] * 10, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [10, 9.8, 9.7, 9.9, 9.6] * 2,
                                   [10, 9, 8, 7, 6, 5, 4, 3, 2, float("nan")]],
                         ids=["flat", "rising", "within-margin", "non-finite"])
def test_a_flat_rising_barely_falling_or_non_finite_curve_did_not_fall(gpu_check, curve):
    assert gpu_check.loss_fell(curve) is False


def test_too_few_losses_are_not_judged(gpu_check):
    assert gpu_check.loss_fell([10, 5, 1]) is None


def figures(losses: list[float], dry_run: bool = False) -> dict:
    return {"devices": ["NVIDIA H200"], "world_size": 1, "precision": "bf16-mixed", "measured_steps": 270,
            "seconds": 30.0, "images_per_s": 2300.0, "peak_memory_bytes": 40 * 2**30,
            "memory": "torch.cuda.max_memory_allocated", "parameters": 90e6, "config": "configs/paper/sgtr_base.yaml",
            "model": "sgtr", "preset": "base", "batch_per_device": 256, "input": [64, 256], "steps": 300,
            "wall_seconds": 60.0, "torch": "2.11.0", "dry_run": dry_run,
            "losses": [[10 * i, loss] for i, loss in enumerate(losses)]}


def report(tmp_path: Path, data: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(data))
    return subprocess.run([sys.executable, str(HELPER), "report", str(path)], capture_output=True, text=True)


def test_report_exits_non_zero_when_told_a_loss_curve_that_does_not_fall(tmp_path):
    done = report(tmp_path, figures([5.0] * 30))
    assert done.returncode == 1 and "FAIL: the loss did not fall" in done.stdout


def test_report_passes_a_falling_curve_and_prints_the_figures(tmp_path):
    done = report(tmp_path, figures([10 - 0.25 * i for i in range(30)]))
    assert done.returncode == 0 and "PASS: the loss fell" in done.stdout
    assert "2300.0 images/s" in done.stdout and "peak memory: 40.00 GiB" in done.stdout


def test_too_short_a_curve_fails_a_gpu_run_but_not_a_dry_run(tmp_path):
    assert report(tmp_path, figures([10, 9, 8])).returncode == 1
    assert report(tmp_path, figures([10, 9, 8], dry_run=True)).returncode == 0


def test_runtime_table_lists_every_dependency_of_pyproject_the_check_needs(gpu_check):
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["train"] + \
        project["optional-dependencies"]["synth"]
    names = {re.match(r"[A-Za-z0-9_.-]+", spec).group(0).lower() for spec in needed} - {"wordfreq"}
    assert names == set(gpu_check.RUNTIME.values())


PROBE = "sgtr_gpu_check_probe"


def probe_wheel(folder: Path) -> Path:
    """A one-module wheel, as ``pip download`` would leave one in a wheelhouse."""
    folder.mkdir()
    wheel = folder / f"{PROBE}-1.0-py3-none-any.whl"
    info = f"{PROBE}-1.0.dist-info"
    files = {f"{PROBE}.py": "ANSWER = 42\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return folder


def test_a_dependency_that_does_not_import_is_named_without_a_wheelhouse(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "RUNTIME", {PROBE: PROBE})
    assert gpu_check.main(["deps"]) == 1
    assert f"missing: {PROBE} ({PROBE}); pass --wheelhouse" in capsys.readouterr().out


def test_a_dependency_that_does_not_import_is_installed_from_the_wheelhouse(gpu_check, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gpu_check, "RUNTIME", {PROBE: PROBE})
    monkeypatch.setattr(sys, "path", list(sys.path))
    wheelhouse, site = probe_wheel(tmp_path / "wheels"), tmp_path / "site"
    assert gpu_check.main(["deps", "--wheelhouse", str(wheelhouse), "--site", str(site)]) == 0
    assert (site / f"{PROBE}.py").is_file() and "every runtime dependency imports" in capsys.readouterr().out
    sys.modules.pop(PROBE, None)
