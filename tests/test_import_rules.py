"""The import rules (``lint-imports``, pyproject ``[tool.importlinter]``) fail on each forbidden import: a copy of the
package gains one new module holding that import, and the run on the copy names the broken contract and the chain."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

HOSTS_AND_PLUGIN = "hosts and the plug-in do not import a model file (for its losses)"
# (module in the copy that gains the import, new unless it exists, the import, the contract it must break)
FORBIDDEN = [
    ("models/injected.py", "import sgtr.engine", "models do not import the engine"),
    ("models/injected.py", "import sgtr.cli", "models do not import the cli"),
    ("data/injected.py", "import sgtr.models", "data does not import models or the engine"),
    ("data/injected.py", "import sgtr.engine", "data does not import models or the engine"),
    ("synth/injected.py", "import sgtr.models", "synth does not import models"),
    ("inference/injected.py", "import sgtr.engine", "inference does not import the engine"),
    ("models/hosts/injected.py", "import sgtr.models.vr", HOSTS_AND_PLUGIN),
    ("models/plugin.py", "import sgtr.models.sgtr", HOSTS_AND_PLUGIN),
    ("cli/injected.py", "from sgtr.cli.main import main", "cli subcommands do not import cli.main"),
]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # The copy ahead of the editable install's path to the real tree; wide lines, so no name is wrapped.
    env = dict(os.environ, PYTHONPATH=str(root / "src"), COLUMNS="400")
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("module", "statement", "contract"), FORBIDDEN,
                         ids=[f"{m.removesuffix('.py')}:{s.split()[1]}" for m, s, _ in FORBIDDEN])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, statement, contract):
    if not LINT_IMPORTS.is_file():
        pytest.skip("import-linter is not installed (make lint installs it)")
    shutil.copytree(ROOT / "src" / "sgtr", tmp_path / "src" / "sgtr", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "src" / "sgtr" / module
    source = target.read_text() if target.is_file() else '"""Injected by the test."""\n'
    target.write_text(f"{source}\n{statement}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout[-3000:]
    broken = result.stdout.split("Broken contracts", 1)[-1]
    importer = "sgtr." + module.removesuffix(".py").replace("/", ".")
    imported = statement.split()[1]
    assert f"{contract}\n" in broken and f"{importer} -> {imported}" in broken, result.stdout[-3000:]
