"""scripts/setup-system.sh on a machine that lacks packages: fake dpkg, apt-cache and apt-get on PATH stand in for
Debian's, so the selection logic runs without root or network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "setup-system.sh"
NO_SUCH_PACKAGE = "sgtr-no-such-package-0"
FILLER = "\n".join(f"        500 http://deb.example/debian stable/main amd64 Packages line {i}" for i in range(2000))


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


@pytest.fixture
def fake_apt(tmp_path) -> dict:
    """An archive with every package except ``NO_SUCH_PACKAGE`` (unknown) and ``fonts-go`` (no candidate);
    ``fonts-dejavu-core`` is already installed; apt-get logs each call to ``apt-get.log``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt-get.log"
    _fake(bin_dir, "id", 'echo 0\n')
    _fake(bin_dir, "dpkg", '[ "$2" = fonts-dejavu-core ]\n')
    # Long output after the Candidate line, as the real apt-cache gives: a reader that stops early breaks the pipe.
    (tmp_path / "filler.txt").write_text(FILLER)
    _fake(bin_dir, "apt-cache", f'''case "$2" in
  {NO_SUCH_PACKAGE}) echo "N: Unable to locate package $2" >&2 ;;
  fonts-go) printf '%s:\\n  Installed: (none)\\n  Candidate: (none)\\n' "$2" ;;
  *) printf '%s:\\n  Installed: (none)\\n  Candidate: 1:2.3-4\\n  Version table:\\n' "$2"; cat {tmp_path}/filler.txt ;;
esac
''')
    _fake(bin_dir, "apt-get", f'echo "$*" >> {log}\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return {"env": env, "log": log, "bin": bin_dir}


def _bash(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], check=False, env=env, capture_output=True, text=True, timeout=60)


def test_available_packages_keeps_those_with_a_candidate_and_drops_unknown_ones(fake_apt):
    done = _bash(f'source {SCRIPT}; available_packages fonts-lato {NO_SUCH_PACKAGE} fonts-go tesseract-ocr',
                 fake_apt["env"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fonts-lato", "tesseract-ocr"]


def test_script_installs_what_is_available_and_names_what_it_skipped(fake_apt):
    env = fake_apt["env"]
    script = SCRIPT.read_text().replace("tesseract-ocr-eng", f"tesseract-ocr-eng {NO_SUCH_PACKAGE}")
    copy = fake_apt["bin"].parent / "setup-system.sh"
    copy.write_text(script)
    done = _bash(f"bash {copy}", env)
    assert done.returncode == 0, done.stdout + done.stderr
    install = [line for line in fake_apt["log"].read_text().splitlines() if line.startswith("install")]
    assert len(install) == 1
    installed = install[0].split()
    assert "fonts-lato" in installed and "tesseract-ocr-eng" in installed
    assert NO_SUCH_PACKAGE not in installed and "fonts-go" not in installed
    assert "fonts-dejavu-core" not in installed  # already there
    skipped = next(line for line in done.stdout.splitlines() if line.startswith("skipped"))
    assert set(skipped.split(": ")[1].split()) == {NO_SUCH_PACKAGE, "fonts-go"}


def test_script_exits_zero_when_no_missing_package_is_available(fake_apt):
    env = fake_apt["env"]
    _fake(fake_apt["bin"], "apt-cache", 'echo "N: Unable to locate package $2" >&2\n')
    done = _bash(f"bash {SCRIPT}", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "install" not in fake_apt["log"].read_text()
    assert "tesseract-ocr" in done.stdout and "skipped" in done.stdout
