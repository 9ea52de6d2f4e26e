"""``replace_checked``: a config dataclass with some fields replaced, refusing names it does not have.

Below every model: the VR, LM, GTR and S-GTR configs all take overrides from YAML this way (lists become tuples, so
a YAML list overrides a tuple field), and an unknown name is an error listing the valid ones.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

C = TypeVar("C")


def replace_checked(config: C, what: str, overrides: dict[str, Any]) -> C:
    valid = {f.name for f in fields(config)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    return replace(config, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})  # type: ignore[type-var]
