"""Warm starts: loading weights into a model whose heads may differ from the checkpoint's (``trainer.init_from``:
fine-tuning to a new charset or length, or starting a larger model from a smaller one's weights).

Tensors of equal shape are copied. A tensor whose shape differs only along a class axis (old ``num_classes`` against
new) is remapped symbol by symbol, so a model fine-tuned from 36 to 62 classes keeps everything it knew about the
shared symbols and only the new rows start fresh. Anything else keeps its fresh initialisation and is reported.
Weights of a bare recognizer are found inside a model that wraps it: a VR checkpoint initialises S-GTR's ``vr``, a
host's initialises the plug-in's ``host``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.state_names import upgrade_state


@dataclass
class LoadReport:
    copied: list[str] = field(default_factory=list)
    remapped: list[str] = field(default_factory=list)
    reinitialised: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.copied)} tensors copied, {len(self.remapped)} remapped to the new charset, "
                f"{len(self.reinitialised)} re-initialised, {len(self.unused)} unused")


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


def load_matching(model: nn.Module, state: dict[str, torch.Tensor], old: Charset | None = None,
                  new: Charset | None = None) -> LoadReport:
    report = LoadReport()
    target = model.state_dict()
    state = upgrade_state(model, _align_prefix(state, set(target)))
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
