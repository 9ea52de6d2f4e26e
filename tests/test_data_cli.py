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
    assert len(bad_lines) == 4
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
