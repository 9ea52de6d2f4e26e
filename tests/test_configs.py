"""Every shipped config, resolved with its ``base`` chain, validates on the held-back split and never on a benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgtr.engine.config import load_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
BENCHMARKS = (REPO.parent / "shared" / "data" / "benchmarks").resolve()
SPLIT_VAL = {f"splits/val/{name}" for name in ("IIIT5K_train_2000", "SVT_train_257", "IC15_train_4468")}


def touches_benchmarks(path: str) -> bool:
    """Named ``benchmarks`` anywhere in the path, or resolving into the shared benchmark folder (a symlink, an
    absolute path)."""
    resolved = (REPO / path).resolve()
    return "benchmarks" in Path(path).parts or resolved == BENCHMARKS or BENCHMARKS in resolved.parents


def test_the_configs_are_found():
    assert len(CONFIGS) > 10


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_no_validation_set_is_a_benchmark(config):
    val = load_config(config)["data"]["val"]
    assert not [path for path in val.values() if touches_benchmarks(path)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_config_validates_on_the_held_back_split(config):
    assert SPLIT_VAL <= set(load_config(config)["data"]["val"].values())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_no_config_trains_on_a_benchmark_or_on_the_validation_samples(config):
    for source in load_config(config)["data"]["train"]:
        path = source["path"]
        assert not touches_benchmarks(path), path
        assert "real_train" not in Path(path).parts, f"{path}: train on splits/train, which leaves out splits/val"
        assert not path.startswith("splits/val"), path


def test_the_touches_benchmarks_check_sees_a_benchmark_path():
    assert touches_benchmarks("../shared/data/benchmarks/IIIT5K_3000")
    assert not touches_benchmarks("splits/val/IIIT5K_train_2000")
