"""Training configuration: YAML files under ``configs/`` merged with ``key.sub=value`` command-line overrides.

A file may name a ``base`` config to start from and list only what differs. A config is a plain nested dict (so it
round-trips through checkpoints with ``weights_only`` loading); ``DEFAULTS`` lists every key the engine reads, and an
override or file key that is not there is an error naming it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from sgtr.data.augment import AugmentPolicy


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``3e-4`` as a string; learning rates are written that way, so read it as a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+|\.[0-9_]+"
               r"(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)

DEFAULTS: dict[str, Any] = {
    "model": {"name": "vr", "preset": "small", "options": {}},
    "charset": {"spec": "36", "max_length": 25, "unknown": "drop"},
    "data": {
        "height": 32,
        "width": 128,
        # Training sources: a list of {path, ratio}; each path is an LMDB tree, a labels.tsv folder or a gt.txt.
        "train": [],
        # Validation sets by name: the synthetic split and any real sets (never trained on).
        "val": {},
        "batch_size": 64,
        "workers": 1,
        "val_limit": 2000,  # samples per validation set
        # Training-time distortions (sgtr.data.augment.AugmentPolicy): 0 turns each off; all off by default.
        "augment": asdict(AugmentPolicy()),
    },
    "optim": {
        "lr": 1e-3,  # at base_batch; scaled linearly to the global batch (batch × devices × nodes)
        "base_batch": 64,
        "weight_decay": 0.01,
        "schedule": "onecycle",  # onecycle | cosine
        "warmup": 0.05,  # fraction of max_steps
        "grad_clip": 5.0,
    },
    "trainer": {
        "max_steps": 10000,
        "val_every": 1000,
        "precision": "auto",  # auto: bf16-mixed on GPUs and on CPUs with native bf16, else 32-true
        "accelerator": "auto",
        "devices": "auto",
        "num_nodes": 1,
        "seed": 0,
        "threads": 0,  # torch threads per process; 0 = cores / processes
        "out": "runs/default",
        "log_every": 50,
        "nan_patience": 20,  # consecutive non-finite losses before the run stops
        "init_from": None,  # checkpoint to fine-tune from (mismatched heads are re-initialised)
    },
}


# Maps whose keys the user names (validation sets, model options): replaced whole, never merged key by key.
OPEN_KEYS = {"data.val", "model.options"}


class ConfigError(ValueError):
    pass


def _merge(base: dict, update: dict, where: str = "") -> dict:
    for key, value in update.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown config key '{path}'")
        if isinstance(base[key], dict) and path not in OPEN_KEYS and isinstance(value, dict):
            _merge(base[key], value, path + ".")
        else:
            base[key] = value
    return base


def parse_override(text: str) -> dict:
    """``a.b=value`` → ``{'a': {'b': value}}``, the value parsed as YAML (so numbers, lists and null work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not of the form key.sub=value")
    value = yaml.load(raw, Loader=_Loader) if raw != "" else ""
    for part in reversed(key.split(".")):
        value = {part: value}
    return value  # type: ignore[return-value]


def _read_file(path: Path) -> dict:
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot read config ({reason})") from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise ConfigError(f"{path}: cannot read config (nested too deeply)") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a config must be a mapping")
    return loaded


def _merge_file(config: dict, path: Path, seen: tuple[Path, ...] = ()) -> None:
    """Merge a config file into ``config``, after the file its ``base`` key names (a path relative to this file), so
    a config that differs from another in a few keys says only those."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' chain returns to itself")
    loaded = _read_file(path)
    base = loaded.pop("base", None)
    if base is not None:
        if not isinstance(base, str) or not base:
            raise ConfigError(f"{path}: 'base' must be the path of another config, got {base!r}")
        _merge_file(config, path.parent / base, seen + (path.resolve(),))
    try:
        _merge(config, loaded)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        _merge_file(config, path)
    for text in overrides:
        _merge(config, parse_override(text))
    # Checked here, not when the loader is built, so a bad policy stops the run before a model is made.
    augment = config["data"].get("augment", {}) if isinstance(config["data"], dict) else {}
    try:
        if not isinstance(augment, dict):
            raise ValueError(f"data.augment must be a mapping such as {{rotate: 3, blur: 0.25}}, got {augment!r}")
        AugmentPolicy.from_config(augment)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from None
    return config
