"""Tensor names of files written before a module was reorganised, renamed on load so that those files keep loading.

A module whose parameters moved lists ``RENAMED = {old prefix: new prefix}`` (names relative to itself) and calls
``rename_on_load(self)`` in its constructor, so every ``load_state_dict`` (a resumed training run included) renames
them first. ``upgrade_state(model, state)`` renames a state dict the same way for code that compares names itself
before loading (weights files, warm starts).
"""

from __future__ import annotations

from torch import nn


def _renamed(state: dict, prefix: str, renames: dict[str, str]) -> dict:
    out = {}
    for key, value in state.items():
        for old, new in renames.items():
            if key.startswith(prefix + old):
                key = prefix + new + key[len(prefix + old):]
                break
        out[key] = value
    return out


def rename_on_load(module: nn.Module) -> None:
    def hook(module, state_dict, prefix, *args) -> None:
        renamed = _renamed(state_dict, prefix, module.RENAMED)
        state_dict.clear()
        state_dict.update(renamed)

    module.register_load_state_dict_pre_hook(hook)


def upgrade_state(model: nn.Module, state: dict) -> dict:
    """``state`` with the old names of every renaming module inside ``model`` replaced by the current ones."""
    for name, module in model.named_modules():
        renames = getattr(type(module), "RENAMED", None)
        if renames:
            state = _renamed(state, f"{name}." if name else "", renames)
    return state
