"""``sgtr synth`` output: LMDB layout, byte-identical reruns, resume/append, shards, and the command line."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sgtr.cli.main import main
from sgtr.data import lmdb_format as fmt
from sgtr.data.charset import Charset
from sgtr.data.datasets import LmdbDataset
from sgtr.synth import writer
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthError, SynthGenerator
from sgtr.synth.writer import shard_indices, write_shard
from tests.helpers.data import contents
from tests.helpers.render import font


@pytest.fixture(scope="module")
def generator() -> SynthGenerator:
    return SynthGenerator.build(SynthConfig(Charset.from_spec("94"), seed=3, font_dirs=(font(),)))


def test_shard_holds_standard_keys_masks_and_boxes(tmp_path, generator):
    report = write_shard(generator, tmp_path / "db", 20)
    db = contents(tmp_path / "db")
    assert report.total == report.written == 20
    assert db[fmt.NUM_SAMPLES_KEY] == b"20" and fmt.COMPLETE_KEY in db
    for i in range(1, 21):
        image = Image.open(io.BytesIO(db[fmt.image_key(i)]))
        mask = np.asarray(Image.open(io.BytesIO(db[fmt.mask_key(i)])))
        length = len(db[fmt.label_key(i)].decode().replace(" ", ""))
        assert image.size == (128, 32) and mask.shape == (32, 128) and mask.max() == length
        assert np.frombuffer(db[fmt.boxes_key(i)], "<i2").reshape(-1, 4).shape == (length, 4)


def test_project_reader_loads_the_masks(tmp_path, generator):
    write_shard(generator, tmp_path / "db", 5)
    sample = LmdbDataset(tmp_path / "db")[4]
    assert sample.mask is not None and sample.mask.shape == (32, 128) and sample.label


def test_keep_ratio_shard_stores_each_word_at_its_own_width_with_its_mask(tmp_path):
    gen = SynthGenerator.build(SynthConfig(Charset.from_spec("94"), seed=3, font_dirs=(font(),), height=48,
                                           width=320, keep_ratio=True))
    write_shard(gen, tmp_path / "a", 24, workers=1)
    write_shard(gen, tmp_path / "b", 24, workers=2)
    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    data = LmdbDataset(tmp_path / "a")
    widths = set()
    for i in range(24):
        sample = data[i]
        assert sample.image.size[1] == 48 and sample.mask.shape == (48, sample.image.size[0])
        widths.add(sample.image.size[0])
    assert len(widths) > 8 and max(widths) <= 320


def test_reruns_and_worker_counts_give_identical_contents(tmp_path, generator):
    write_shard(generator, tmp_path / "a", 30, workers=1)
    write_shard(generator, tmp_path / "b", 30, workers=2)
    assert contents(tmp_path / "a") == contents(tmp_path / "b")


def test_interrupted_shard_is_marked_incomplete_and_resumes_to_the_same_contents(tmp_path, generator, monkeypatch):
    monkeypatch.setattr(writer, "CHUNK", 4)
    real_render = SynthGenerator.render

    def render_then_stop(self, index, clean=False):
        if index == 10:
            raise KeyboardInterrupt
        return real_render(self, index, clean)

    monkeypatch.setattr(SynthGenerator, "render", render_then_stop)
    with pytest.raises(KeyboardInterrupt):
        write_shard(generator, tmp_path / "db", 16)
    partial = contents(tmp_path / "db")
    assert partial[fmt.NUM_SAMPLES_KEY] == b"8" and fmt.COMPLETE_KEY not in partial

    monkeypatch.setattr(SynthGenerator, "render", real_render)
    report = write_shard(generator, tmp_path / "db", 16)
    assert (report.written, report.total) == (8, 16)
    write_shard(generator, tmp_path / "fresh", 16)
    assert contents(tmp_path / "db") == contents(tmp_path / "fresh")


def test_larger_count_appends_to_a_complete_shard(tmp_path, generator):
    write_shard(generator, tmp_path / "db", 6)
    write_shard(generator, tmp_path / "db", 10)
    write_shard(generator, tmp_path / "fresh", 10)
    assert contents(tmp_path / "db") == contents(tmp_path / "fresh")


def test_resume_with_other_settings_is_refused(tmp_path, generator):
    write_shard(generator, tmp_path / "db", 4)
    with pytest.raises(SynthError, match="other settings \\(image_format differ\\)"):
        write_shard(generator, tmp_path / "db", 8, image_format="png")


def test_shards_split_the_global_indices():
    assert list(shard_indices(10, 1, 3)) == [1, 4, 7]
    assert sorted(i for s in range(3) for i in shard_indices(10, s, 3)) == list(range(10))


def test_shard_stores_its_own_global_samples(tmp_path, generator):
    write_shard(generator, tmp_path / "db", 9, shard=2, num_shards=3)
    db = contents(tmp_path / "db")
    assert [db[fmt.label_key(k)].decode() for k in (1, 2, 3)] == [generator.render(i).label for i in (2, 5, 8)]


# ---- command line ---------------------------------------------------------------------------------------------------
def run_cli(*args: str) -> int:
    return main(["synth", "--fonts", font(), "--no-system-fonts", "--no-system-backgrounds", "--workers", "1",
                 *args])


def test_cli_writes_a_shard_with_preview(tmp_path, capsys):
    assert run_cli("--out", str(tmp_path), "--count", "12", "--shard", "1/2", "--preview", "4") == 0
    shard = tmp_path / "shard-1-of-2"
    assert contents(shard)[fmt.NUM_SAMPLES_KEY] == b"6"
    assert Image.open(shard / "preview.png").size[0] > 256
    assert "wrote 6 samples" in capsys.readouterr().out


def test_cli_rerun_over_complete_output_writes_nothing(tmp_path, capsys):
    run_cli("--out", str(tmp_path), "--count", "3")
    assert run_cli("--out", str(tmp_path), "--count", "3") == 0
    assert "already complete with 3 samples" in capsys.readouterr().out


def test_cli_empty_word_list_is_a_one_line_error(tmp_path, capsys):
    words = tmp_path / "words.txt"
    words.write_text("")
    assert run_cli("--out", str(tmp_path / "db"), "--count", "3", "--words", str(words)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty" in err


def test_cli_reports_unreadable_backgrounds(tmp_path, capsys):
    backgrounds = tmp_path / "bg"
    backgrounds.mkdir()
    (backgrounds / "bad.png").write_bytes(b"\x89PNG broken")
    assert run_cli("--out", str(tmp_path / "db"), "--count", "40", "--backgrounds", str(backgrounds)) == 0
    out = capsys.readouterr().out
    assert "backgrounds replaced: unreadable image" in out and "unreadable background" in out


def test_cli_rejects_a_malformed_shard(tmp_path, capsys):
    assert run_cli("--out", str(tmp_path), "--count", "3", "--shard", "2/2") == 2
    assert "0 <= I < N" in capsys.readouterr().err
