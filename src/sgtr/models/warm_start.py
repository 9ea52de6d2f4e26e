"""Warm starts: loading weights into a model whose heads may differ from the checkpoint's (``trainer.init_from``:
fine-tuning to a new charset or length, or starting a larger model from a smaller one's weights).

Tensors of equal shape are copied. A tensor whose shape differs only along a class axis (old ``num_classes`` against
new) is remapped symbol by symbol, so a model fine-tuned from 36 to 62 classes keeps everything it knew about the
shared symbols and only the new rows start fresh. Anything else keeps its fresh initialisation and is reported.
Weights of a bare recognizer are found inside a model that wraps it: a VR checkpoint initialises S-GTR's ``vr``, a
host's initialises the plug-in's ``host``.

PP-OCRv6-small's pretrained stages (``PPOCRBackbone``) are matched by structure instead: each such module in the
model takes the stage tensors from wherever the file holds a complete set of them (an imported file keeps them as the
``ppocr`` host's ``backbone.*``; a CRNN keeps its stages at ``backbone.stages.*``, TRBA, SRN and ABINet at
``backbone.pretrained.*``, a plugged host under ``host.``), whatever the two models around them are. A file that
holds stage tensors which do not fit the model's stages is refused rather than leaving those stages fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.backbones.ppocr import PPOCRBackbone
from sgtr.models.state_names import upgrade_state
from sgtr.serialization import CheckpointError


@dataclass
class LoadReport:
    copied: list[str] = field(default_factory=list)
    remapped: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    # (the model's pretrained-stage module, the file's prefix it was filled from, tensors copied into it)
    stages: list[tuple[str, str, int]] = field(default_factory=list)

    def summary(self) -> str:
        line = (f"{len(self.copied)} tensors copied, {len(self.remapped)} remapped to the new charset, "
                f"{len(self.reinitialised)} re-initialised, {len(self.unused)} unused")
        for module, source, count in self.stages:
            line += f"; {count} tensors into the pretrained stages at {_shown(module)} from the file's {_shown(source)}"
        return line


def class_index_map(old: Charset, new: Charset) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs (new_index, old_index) of classes present in both charsets: EOS, shared symbols, UNK."""
    old_index = {s: i + 1 for i, s in enumerate(old.symbols)}
    pairs = [(EOS_ID, EOS_ID)] + [(i + 1, old_index[s]) for i, s in enumerate(new.symbols) if s in old_index]
    if old.unk_id is not None and new.unk_id is not None:
        pairs.append((new.unk_id, old.unk_id))
    new_idx, old_idx = zip(*pairs)
    return torch.tensor(new_idx), torch.tensor(old_idx)


def _align_prefix(state: dict[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """Re-key ``state`` under the sub-module prefix where most of its keys land, so a bare recognizer's weights (a
    VR checkpoint) warm-start the same recognizer held inside a larger model (S-GTR's ``vr.``)."""
    prefixes = {""} | {k[: i + 1] for k in target_keys for i, c in enumerate(k) if c == "."}
    best = max(prefixes, key=lambda p: (sum(p + k in target_keys for k in state), -len(p)))
    return {best + k: v for k, v in state.items()}


def _shown(prefix: str) -> str:
    return prefix.rstrip(".") or "(top level)"


def _prefixes_holding(state: dict[str, torch.Tensor], names: list[str]) -> dict[str, list[str]]:
    """Each prefix under which ``state`` holds some of ``names`` (whole name components only), with those names."""
    held: dict[str, list[str]] = {}
    for key in state:
        for name in names:
            if key.endswith(name) and (len(key) == len(name) or key[-len(name) - 1] == "."):
                held.setdefault(key[: -len(name)], []).append(name)
    return held


def _pretrained_stage_tensors(model: nn.Module, state: dict[str, torch.Tensor], origin: str
                              ) -> tuple[dict[str, torch.Tensor], set[str], list[tuple[str, str, int]]]:
    """The file's pretrained-stage tensors re-keyed to every ``PPOCRBackbone`` of ``model``, the file's keys they were
    taken from, and per module (its prefix) the file's prefix that filled it. Stage tensors in the file that fit no
    complete set, or several complete sets none of which sits where the module does, are a ``CheckpointError``."""
    mapped: dict[str, torch.Tensor] = {}
    taken: set[str] = set()
    filled: list[tuple[str, str, int]] = []
    for name, module in model.named_modules():
        if not isinstance(module, PPOCRBackbone):
            continue
        prefix = f"{name}." if name else ""
        wanted = module.state_dict()
        held = _prefixes_holding(state, list(wanted))
        if not held:
            continue  # the file has no such stages: the module keeps its initialisation, as any unmatched tensor
        complete = [p for p in held if all(p + k in state and state[p + k].shape == v.shape for k, v in wanted.items())]
        if not complete:
            source = max(held, key=lambda p: len(held[p]))
            problem = next(k for k in wanted if source + k not in state or state[source + k].shape != wanted[k].shape)
            found = f"has shape {tuple(state[source + problem].shape)}" if source + problem in state else "is missing"
            raise CheckpointError(f"{origin}: its pretrained-stage tensors under {_shown(source)} cannot fill the "
                                  f"model's at {_shown(prefix)}: {source + problem} {found}, the model's is "
                                  f"{tuple(wanted[problem].shape)}")
        if prefix in complete:
            source = prefix
        elif len(complete) == 1:
            source = complete[0]
        else:
            raise CheckpointError(f"{origin}: holds pretrained stages under {', '.join(map(_shown, complete))}; "
                                  f"cannot tell which fills the model's at {_shown(prefix)}")
        mapped.update({prefix + k: state[source + k] for k in wanted})
        taken.update(source + k for k in wanted)
        filled.append((prefix, source, len(wanted)))
    return mapped, taken, filled


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], old: Charset | None = None,
                  new: Charset | None = None, origin: str = "the initial weights") -> LoadReport:
    """Copy what fits of ``state`` into ``model`` (see the module docstring); ``origin`` names the file in errors."""
    report = LoadReport()
    target = model.state_dict()
    stages, taken, report.stages = _pretrained_stage_tensors(model, state, origin)
    rest = {k: v for k, v in state.items() if k not in taken}
    # The rest is aligned without the stage tensors, so they cannot pull the prefix away from the rest's own.
    state = {**upgrade_state(model, _align_prefix(rest, set(target))), **stages}
    mapping = class_index_map(old, new) if old is not None and new is not None else None
    for key, value in state.items():
        if key not in target:
            report.unused.append(key)
            continue
        current = target[key]
        if value.shape == current.shape:
            current.copy_(value)
            report.copied.append(key)
            continue
        axes = [d for d in range(value.dim()) if value.dim() == current.dim() and value.shape[d] != current.shape[d]]
        if (mapping is not None and len(axes) == 1 and value.shape[axes[0]] == old.num_classes
                and current.shape[axes[0]] == new.num_classes):
            new_idx, old_idx = mapping
            current.index_copy_(axes[0], new_idx, value.index_select(axes[0], old_idx).to(current.dtype))
            report.remapped.append(key)
        else:
            report.reinitialised.append(key)
    report.reinitialised += [k for k in target if k not in state]
    model.load_state_dict(target)
    return report
