"""``sgtr data``'s messages: inspect judges labels as training cleans them and names each bad sample once;
create-lmdb refuses an existing folder before reading anything, in the command's own words."""

from __future__ import annotations

import pytest
from PIL import Image

from sgtr.cli.main import main


@pytest.fixture
def punctuated(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    for name in ("joes.png", "bangs.png", "plain.png"):
        Image.new("RGB", (50, 20), (200, 200, 200)).save(root / name)
    (root / "labels.tsv").write_text("joes.png\tJOE'S\nbangs.png\t!!!\nplain.png\tword\n", encoding="utf-8")
    return root


def test_inspect_counts_a_label_training_cleans_as_encodable(punctuated, capsys):
    assert main(["data", "inspect", str(punctuated), "--charset", "36"]) == 0
    out = capsys.readouterr().out
    assert "joes.png" not in out
    assert "2 labels encodable" in out and "1 changed by training's cleaning" in out


def test_inspect_names_each_bad_sample_once(punctuated, capsys):
    main(["data", "inspect", str(punctuated), "--charset", "36"])
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("bangs.png") == 1


def test_create_lmdb_refuses_an_existing_folder_before_reading_samples(punctuated, tmp_path, capsys, monkeypatch):
    import sgtr.data.labels

    def never(*_):
        raise AssertionError("the label list was read before the refusal")

    monkeypatch.setattr(sgtr.data.labels, "parse_label_file", never)
    out = tmp_path / "exists"
    out.mkdir()
    assert main(["data", "create-lmdb", str(punctuated), str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "pass --overwrite to replace it" in err[0]
