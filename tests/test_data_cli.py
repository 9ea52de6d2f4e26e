from sgtr.cli.main import main
from sgtr.data.datasets import LmdbDataset


def test_create_lmdb_then_inspect_reports_all_857_ic13_samples(shared_data, tmp_path, capsys):
    out = tmp_path / "ic13"
    assert main(["data", "create-lmdb", str(shared_data / "benchmarks" / "IC13_857"), str(out)]) == 0
    assert len(LmdbDataset(out)) == 857
    capsys.readouterr()
    assert main(["data", "inspect", str(out), "--limit", "50"]) == 0
    assert "samples: 50  readable: 50" in capsys.readouterr().out


def test_create_lmdb_skips_and_names_each_bad_sample_once(messy_folder, tmp_path, capsys):
    out = tmp_path / "db"
    assert main(["data", "create-lmdb", str(messy_folder), str(out), "--charset", "36"]) == 0
    captured = capsys.readouterr()
    assert "wrote 2 samples" in captured.out and "4 samples skipped" in captured.out
    assert len(LmdbDataset(out)) == 2


def test_inspect_finishes_over_bad_samples_and_counts_them(messy_folder, capsys, caplog):
    assert main(["data", "inspect", str(messy_folder)]) == 0
    out = capsys.readouterr().out
    assert "samples: 6  readable: 3  unreadable: 3" in out
    bad_lines = [line for line in out.splitlines() if line.startswith("  /")]
    assert len(bad_lines) == 3  # the three unreadable files; 'café!' trains as 'cafe' under charset 36
    assert sum("missing.png" in line for line in bad_lines) == 1


def test_create_lmdb_refuses_an_existing_output_with_one_line_error(messy_folder, tmp_path, capsys):
    (tmp_path / "db").mkdir()
    assert main(["data", "create-lmdb", str(messy_folder), str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0]


def test_every_subcommand_has_help(capsys):
    import pytest

    from sgtr.cli.main import SUBCOMMANDS, build_parser

    names = [a for a in build_parser()._subparsers._group_actions[0].choices]
    assert len(names) == len(SUBCOMMANDS)
    for name in names:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0


def test_a_subcommand_error_is_one_line_when_run_as_python_dash_m(tmp_path):
    """Run as ``python -m sgtr.cli.main`` the entry module is ``__main__``; the error class must still be the one the
    subcommands raise."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "sgtr.cli.main", "data", "inspect", str(tmp_path / "nothing")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"sgtr data: error: {tmp_path / 'nothing'}: no such file or folder"]


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_split_regenerates_the_committed_splits_byte_for_byte(shared_data):
    from sgtr.data.split import plan_split

    plan = plan_split(shared_data / "real_train", REPO / "splits")
    committed = sorted((REPO / "splits").glob("*/*/labels.tsv"))
    assert sorted(plan.files) == committed
    for path in committed:
        assert plan.files[path].encode("utf-8") == path.read_bytes(), path


def _tiny_sets(root, n: int = 300):
    for name in ("alpha", "beta"):
        (root / name).mkdir(parents=True)
        (root / name / "labels.tsv").write_text("".join(f"img/{i}.png\tword {i}\n" for i in range(n)) + "\n",
                                                encoding="utf-8")


def test_split_sends_each_line_to_one_part_by_its_hash_with_paths_rewritten(tmp_path, capsys):
    from sgtr.data.split import bucket

    _tiny_sets(tmp_path / "root")
    out = tmp_path / "deep" / "splits"
    assert main(["data", "split", str(tmp_path / "root"), "--out", str(out), "--val-fraction", "0.2"]) == 0
    assert "alpha: " in capsys.readouterr().out
    for name in ("alpha", "beta"):
        parts = {part: (out / part / name / "labels.tsv").read_text(encoding="utf-8").splitlines()
                 for part in ("val", "train")}
        for part, lines in parts.items():
            for line in lines:
                path, label = line.split("\t")
                original = (out / part / name / path).resolve().relative_to((tmp_path / "root" / name).resolve())
                assert label == f"word {original.stem}"
                assert (bucket(name, str(original)) < 200) == (part == "val")
        assert len(parts["val"]) + len(parts["train"]) == 300
        assert 30 < len(parts["val"]) < 90  # about 20 % of 300


def test_split_twice_writes_the_same_bytes(tmp_path):
    _tiny_sets(tmp_path / "root")
    texts = []
    for out in (tmp_path / "one", tmp_path / "two"):
        assert main(["data", "split", str(tmp_path / "root"), "--out", str(out)]) == 0
        texts.append([(p.relative_to(out), p.read_bytes()) for p in sorted(out.glob("*/*/labels.tsv"))])
    assert texts[0] == texts[1] and len(texts[0]) == 4


def test_split_of_a_line_with_a_third_column_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "root" / "s").mkdir(parents=True)
    (tmp_path / "root" / "s" / "labels.tsv").write_text("a.png\tok\nb.png\tword\textra\n", encoding="utf-8")
    assert main(["data", "split", str(tmp_path / "root"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "labels.tsv:2: 3 tab-separated columns" in err[0]
