"""Training configuration: YAML files under ``configs/`` merged with ``key.sub=value`` command-line overrides.

A file may name a ``base`` config to start from and list only what differs. A config is a plain nested dict (so it
round-trips through checkpoints with ``weights_only`` loading); ``DEFAULTS`` lists every key the engine reads, and an
override or file key that is not there is an error naming it.

``load_config`` checks every value before anything is built — its type, its range, its allowed values (``RULES``) —
and a bad one is a one-line ``ConfigError`` naming where it came from (the file, or the command line), the key, what
is expected and what was given. Whole numbers written as floats (``2e4``) become ints.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import yaml

from sgtr.data.augment import AugmentPolicy
from sgtr.data.charset import PRESETS as CHARSET_PRESETS
from sgtr.data.transforms import RESAMPLE
from sgtr.models.factory import MODELS


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
        "keep_ratio": False,  # scale to height keeping the aspect ratio, pad to width (the PP-OCR geometry)
        "resample": "antialias",  # the resize filter: antialias (Pillow's) or linear (OpenCV's, as PaddleOCR trains)
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
        "optimizer": "adamw",  # adamw | adadelta
        "lr": 1e-3,  # at base_batch; scaled linearly to the global batch (batch × devices × nodes)
        "base_batch": 64,
        "weight_decay": 0.01,
        "schedule": "onecycle",  # onecycle | cosine | multistep
        "warmup": 0.05,  # fraction of max_steps
        "milestones": [],  # multistep: fractions of max_steps at which the learning rate is multiplied by gamma
        "gamma": 0.1,
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
        "init_from": None,  # checkpoint or weights file to fine-tune from (mismatched heads are re-initialised)
    },
    # Distillation from a frozen teacher weights file on each batch (sgtr.engine.distillation); weight 0 = off.
    "distill": {"teacher": None, "weight": 0.0, "temperature": 1.0},
}


# Maps whose keys the user names (validation sets, model options): replaced whole, never merged key by key.
OPEN_KEYS = {"data.val", "model.options"}


class ConfigError(ValueError):
    """A config the engine cannot run: the message is one line naming the key, the value and what is expected."""


class _Bad(Exception):
    """A value a rule refuses; ``expected`` says what the rule wants, or ``message`` says all of it (about the
    sub-key ``key``, when the refused part of a mapping was set on its own)."""

    def __init__(self, expected: str, message: str | None = None, key: str | None = None):
        super().__init__(expected)
        self.expected, self.message, self.key = expected, message, key


Rule = Callable[[Any], Any]  # the value, possibly normalised (2e4 → 20000), or raises _Bad


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(minimum: int, *, also: tuple = ()) -> Rule:
    def rule(value):
        if value in also and not isinstance(value, bool):
            return value
        if _is_number(value) and float(value).is_integer() and value >= minimum:
            return int(value)
        raise _Bad(f"a whole number ≥ {minimum}" + "".join(f" or {v!r}" for v in also))
    return rule


def number(minimum: float, maximum: float = math.inf, *, above: bool = False) -> Rule:
    def rule(value):
        if _is_number(value) and (value > minimum if above else value >= minimum) and value <= maximum:
            return value
        low = f"> {minimum:g}" if above else f"≥ {minimum:g}"
        raise _Bad(f"a number {low}" + (f" and ≤ {maximum:g}" if maximum != math.inf else ""))
    return rule


def choice(*values: Any) -> Rule:
    def rule(value):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value in values:
            return value
        raise _Bad("one of " + ", ".join(str(v) for v in values))
    return rule


def text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise _Bad("a non-empty string")


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Bad("true or false")


def optional(rule: Rule) -> Rule:
    def checked(value):
        return None if value is None else rule(value)
    return checked


def options(value: Any) -> dict:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _Bad("a mapping of option names to values, such as {fusion: average}")


def charset_spec(value: Any) -> str | int:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and (str(value) in CHARSET_PRESETS
                                                                          or Path(str(value)).is_file()):
        return value
    raise _Bad(f"a charset preset ({', '.join(CHARSET_PRESETS)}) or the path of a charset file (one symbol a line)")


def devices(value: Any) -> Any:
    if value == "auto" or value == -1 and not isinstance(value, bool):
        return value
    if _is_number(value) and float(value).is_integer() and value >= 1:
        return int(value)
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                 for v in value):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+(,\d+)*,?", value):
        return value
    raise _Bad("auto, a device count ≥ 1, -1 (all), or a list of device indices such as [0, 1]")


SOURCE_KEYS = {"path", "ratio"}


def train_sources(value: Any) -> list:
    expected = "a list of training sources, each a mapping such as {path: data/synth/train, ratio: 1}"
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(expected)
    for i, source in enumerate(value):
        where = f"item {i}"
        if not isinstance(source, dict):
            raise _Bad(f"{expected} ({where} is {source!r})")
        unknown = sorted(set(source) - SOURCE_KEYS)
        if unknown:
            raise _Bad(f"{expected} ({where} has unknown key(s) {', '.join(map(str, unknown))}; a source has path "
                       "and ratio)")
        if not isinstance(source.get("path"), str) or not source["path"]:
            raise _Bad(f"{expected} ({where} needs a path, a non-empty string)")
        if "ratio" in source and not (_is_number(source["ratio"]) and source["ratio"] >= 0):
            raise _Bad(f"{expected} ({where}: ratio must be a number ≥ 0, got {source['ratio']!r})")
    if value and not any(float(s.get("ratio", 1.0)) > 0 for s in value):
        raise _Bad(f"{expected}, at least one with a ratio above 0")
    return value


def fractions(value: Any) -> list:
    if isinstance(value, list) and all(_is_number(v) and 0 < v < 1 for v in value) and value == sorted(set(value)):
        return value
    raise _Bad("a rising list of fractions of trainer.max_steps, each > 0 and < 1, such as [0.67, 0.83]")


def val_sets(value: Any) -> dict:
    expected = "a mapping of set names to dataset paths, such as {synth: data/synth/val}"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(expected)
    for name, path in value.items():
        if not isinstance(name, str) or not isinstance(path, str) or not path:
            raise _Bad(f"{expected} (entry {name!r}: {path!r})")
    return value


def augment_policy(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _Bad("a mapping such as {rotate: 3, blur: 0.25}")
    try:
        AugmentPolicy.from_config(value)
    except ValueError as exc:  # the policy's own message names the field, its limits and the value
        field = re.match(r"data\.augment\.(\w+)", str(exc))
        raise _Bad("", message=str(exc), key=field and f"data.augment.{field.group(1)}") from None
    return value


PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "32", "bf16", "16",
              "64", 32, 16, 64)

# One rule per key of ``DEFAULTS``; ``load_config`` applies them all, so the engine can trust every value.
RULES: dict[str, Rule] = {
    "model.name": choice(*MODELS),
    "model.preset": text,
    "model.options": options,
    "charset.spec": charset_spec,
    "charset.max_length": whole(1),
    "charset.unknown": choice("drop", "unk"),
    "data.height": whole(1),
    "data.width": whole(1),
    "data.keep_ratio": flag,
    "data.resample": choice(*RESAMPLE),
    "data.train": train_sources,
    "data.val": val_sets,
    "data.batch_size": whole(1),
    "data.workers": whole(0),
    "data.val_limit": optional(whole(1)),
    "data.augment": augment_policy,
    "optim.optimizer": choice("adamw", "adadelta"),
    "optim.lr": number(0, above=True),
    "optim.base_batch": whole(1),
    "optim.weight_decay": number(0),
    "optim.schedule": choice("onecycle", "cosine", "multistep"),
    "optim.warmup": number(0, 1),
    "optim.milestones": fractions,
    "optim.gamma": number(0, above=True),
    "optim.grad_clip": optional(number(0)),
    "trainer.max_steps": whole(1),
    "trainer.val_every": whole(1),
    "trainer.precision": choice(*PRECISIONS),
    "trainer.accelerator": choice("auto", "cpu", "gpu", "cuda", "mps", "tpu"),
    "trainer.devices": devices,
    "trainer.num_nodes": whole(1),
    "trainer.seed": whole(0),
    "trainer.threads": whole(0),
    "trainer.out": text,
    "trainer.log_every": whole(1),
    "trainer.nan_patience": whole(1),
    "trainer.init_from": optional(text),
    "distill.teacher": optional(text),
    "distill.weight": number(0),
    "distill.temperature": number(0, above=True),
}


def _origin(key: str, origins: dict[str, str]) -> str:
    """Where the value at ``key`` was last set: a file's path, or the command line; '' for a default."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in origins:
            return origins[".".join(parts[:n])]
    return ""


def check_config(config: dict, origins: dict[str, str] | None = None) -> dict:
    """Apply ``RULES`` to every key (normalising in place); the first bad value is a ``ConfigError``."""
    for key, rule in RULES.items():
        section, name = key.split(".")
        value = config[section][name]
        try:
            config[section][name] = rule(value)
        except _Bad as bad:
            origin = _origin(bad.key or key, origins or {})
            where = f"{origin}: " if origin and origin != "the command line" else ""
            said = " (given on the command line)" if origin == "the command line" else ""
            told = bad.message or f"{key}: expected {bad.expected}, got {value!r}"
            raise ConfigError(f"{where}{told}{said}") from None
    return config


def _merge(base: dict, update: dict, where: str = "", origin: str = "", origins: dict[str, str] | None = None
           ) -> dict:
    """Merge ``update`` into ``base``, refusing unknown keys; ``origins`` records where each key was set."""
    for key, value in update.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown config key '{path}'")
        if isinstance(base[key], dict) and path not in OPEN_KEYS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a mapping of {', '.join(base[key])}, got {value!r}")
            _merge(base[key], value, path + ".", origin, origins)
        else:
            base[key] = value
            if origins is not None:
                origins[path] = origin
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


def _merge_file(config: dict, path: Path, origins: dict[str, str], seen: tuple[Path, ...] = ()) -> None:
    """Merge a config file into ``config``, after the file (or the list of files, merged in order) its ``base`` key
    names (paths relative to this file), so a config that differs from another in a few keys says only those, and
    one part such as a training schedule can be combined with any model's config."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'base' chain returns to itself")
    loaded = _read_file(path)
    base = loaded.pop("base", None)
    if base is not None:
        bases = [base] if isinstance(base, str) else base
        if not isinstance(bases, list) or not bases or not all(isinstance(b, str) and b for b in bases):
            raise ConfigError(f"{path}: 'base' must be the path of another config or a list of them, got {base!r}")
        for name in bases:
            _merge_file(config, path.parent / name, origins, seen + (path.resolve(),))
    try:
        _merge(config, loaded, origin=str(path), origins=origins)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    """DEFAULTS, then the file (after its ``base`` chain), then the overrides; every value checked (``RULES``)."""
    config = copy.deepcopy(DEFAULTS)
    origins: dict[str, str] = {}
    if path is not None:
        _merge_file(config, Path(path), origins)
    for override in overrides:
        _merge(config, parse_override(override), origin="the command line", origins=origins)
    return check_config(config, origins)
