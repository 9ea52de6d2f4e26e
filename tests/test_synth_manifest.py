"""Which fonts and backgrounds a run used: the manifest beside each shard, found again by hash on another layout,
and ``sgtr synth --manifest`` saying what a machine lacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sgtr.cli.main import main
from sgtr.synth.backgrounds import one_per_picture
from sgtr.synth.manifest import MANIFEST_NAME, file_sha256, make_manifest, resolve
from sgtr.synth.preview import read_samples
from tests.helpers.render import font

FACES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")


@pytest.fixture
def fonts(tmp_path) -> Path:
    folder = Path(font()).parent
    if not all((folder / f).is_file() for f in FACES):
        pytest.skip("DejaVu fonts (fonts-dejavu-core) are not installed")
    out = tmp_path / "fonts"
    out.mkdir()
    for f in FACES:
        shutil.copy(folder / f, out / f)
    return out


@pytest.fixture
def backgrounds(tmp_path) -> Path:
    out = tmp_path / "bg"
    out.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(out / f"photo{k}.png")
    return out


def synth(out: Path, fonts: Path, backgrounds: Path, *extra: str) -> int:
    return main(["synth", "--out", str(out), "--count", "16", "--workers", "1", "--fonts", str(fonts),
                 "--no-system-fonts", "--no-system-backgrounds", "--backgrounds", str(backgrounds), *extra])


def test_manifest_lists_every_font_and_background_with_its_hash(tmp_path, fonts, backgrounds):
    assert synth(tmp_path / "run", fonts, backgrounds) == 0
    manifest = json.loads((tmp_path / "run" / MANIFEST_NAME).read_text())
    assert sorted(Path(e["path"]).name for e in manifest["fonts"]) == sorted(FACES)
    assert len(manifest["backgrounds"]) == 3
    for entry in manifest["fonts"] + manifest["backgrounds"]:
        assert entry["sha256"] == file_sha256(entry["path"])


def test_resolve_finds_moved_files_by_hash_in_manifest_order(tmp_path, fonts):
    files = sorted(str(p) for p in fonts.iterdir())
    manifest = make_manifest(files, ["x"] * 3, [], {})
    moved = tmp_path / "elsewhere"
    shutil.copytree(fonts, moved)
    shutil.rmtree(fonts)
    found = resolve(manifest["fonts"], sorted(str(p) for p in moved.iterdir())[::-1])
    assert [Path(p).name for p in found.files] == [Path(p).name for p in files] and not found.missing


def test_manifest_run_on_a_machine_with_the_files_repeats_the_samples(tmp_path, fonts, backgrounds, capsys):
    assert synth(tmp_path / "first", fonts, backgrounds) == 0
    moved = tmp_path / "moved-fonts"
    shutil.copytree(fonts, moved)
    shutil.rmtree(fonts)
    moved.joinpath("extra.ttf").write_bytes(Path(font()).read_bytes().replace(b"DejaVu", b"Dejavu"))
    assert synth(tmp_path / "again", moved, backgrounds, "--manifest", str(tmp_path / "first" / MANIFEST_NAME)) == 0
    assert "all 3 fonts found" in capsys.readouterr().out
    first, again = read_samples(tmp_path / "first", 16), read_samples(tmp_path / "again", 16)
    assert [s[2] for s in first] == [s[2] for s in again]
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))


def test_manifest_run_says_which_fonts_the_machine_lacks(tmp_path, fonts, backgrounds, capsys):
    assert synth(tmp_path / "first", fonts, backgrounds) == 0
    (fonts / "DejaVuSerif.ttf").unlink()
    assert synth(tmp_path / "again", fonts, backgrounds, "--manifest", str(tmp_path / "first" / MANIFEST_NAME)) == 0
    out = capsys.readouterr().out
    assert "lacks 1 of its 3 fonts (DejaVuSerif.ttf)" in out and "all 3 backgrounds found" in out


def test_broken_manifest_is_a_one_line_error(tmp_path, fonts, backgrounds, capsys):
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    assert synth(tmp_path / "run", fonts, backgrounds, "--manifest", str(bad)) == 2
    err = capsys.readouterr().err
    assert "manifest.json: not a JSON manifest" in err and err.count("\n") == 1


def test_wallpapers_shipped_at_several_resolutions_count_once(tmp_path):
    folder = tmp_path / "Autumn" / "contents" / "images"
    folder.mkdir(parents=True)
    for name, size in (("1280x800.jpg", 100), ("3840x2160.jpg", 900), ("1920x1080.jpg", 300)):
        (folder / name).write_bytes(b"x" * size)
    (tmp_path / "debian-logo.png").write_bytes(b"x")
    (tmp_path / "Sway_Blue_1366x768.png").write_bytes(b"x" * 10)
    (tmp_path / "Sway_Blue_2048x1536.png").write_bytes(b"x" * 20)
    kept = one_per_picture(sorted(str(p) for p in tmp_path.rglob("*") if p.is_file()))
    assert sorted(Path(p).name for p in kept) == ["3840x2160.jpg", "Sway_Blue_2048x1536.png"]


def test_synth_names_the_wallpaper_packages_a_machine_lacks(tmp_path, fonts, monkeypatch, capsys):
    from sgtr.synth import backgrounds as bg

    monkeypatch.setattr(bg, "BACKGROUND_PACKAGES", {"made-up-wallpapers": str(tmp_path / "nowhere")})
    monkeypatch.setattr(bg, "SYSTEM_BACKGROUND_DIRS", (str(tmp_path / "nowhere"),))
    assert main(["synth", "--out", str(tmp_path / "run"), "--count", "2", "--workers", "1", "--fonts", str(fonts),
                 "--no-system-fonts"]) == 0
    assert "not installed: made-up-wallpapers (scripts/setup-system.sh installs them)" in capsys.readouterr().out
