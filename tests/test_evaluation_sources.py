"""Prediction sources: the predictions file, Tesseract and RapidOCR."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from sgtr.data.sample import Sample
from sgtr.evaluation.sources import (
    PredictionsFile,
    RapidOcr,
    RapidOcrV4,
    SourceError,
    Tesseract,
    canonical_key,
    parse_tesseract_tsv,
)


def sample(key: str | Path) -> Sample:
    return Sample(str(key), None, "")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_prediction_paths_resolve_against_the_file_folder(tmp_path):
    (tmp_path / "preds").mkdir()
    source = PredictionsFile(write(tmp_path / "preds" / "p.tsv", "../images/a.png\tHello\t0.75\n"))
    assert source.predict([sample(tmp_path / "images" / "a.png")]) == [("Hello", 0.75)]


def test_prediction_without_confidence_has_none(tmp_path):
    source = PredictionsFile(write(tmp_path / "p.tsv", f"{tmp_path}/a.png\tword\n"))
    assert source.predict([sample(tmp_path / "a.png")]) == [("word", None)]


def test_empty_prediction_text_is_kept(tmp_path):
    source = PredictionsFile(write(tmp_path / "p.tsv", "a.png\t\t0.1\nb.png\t\n"))
    assert source.predict([sample(tmp_path / "a.png"), sample(tmp_path / "b.png")]) == [("", 0.1), ("", None)]


def test_sample_without_prediction_gets_none(tmp_path):
    source = PredictionsFile(write(tmp_path / "p.tsv", "a.png\tword\n"))
    assert source.predict([sample(tmp_path / "other.png")]) == [None]


def test_lmdb_keys_match_by_folder_and_index(tmp_path):
    source = PredictionsFile(write(tmp_path / "p.tsv", "lmdb/test#2\tsecond\n"))
    assert source.predict([sample(f"{tmp_path}/lmdb/test#2"), sample(f"{tmp_path}/lmdb/test#1")]) == [
        ("second", None), None]


def test_canonical_key_ignores_leading_zeros_of_an_lmdb_index(tmp_path):
    assert canonical_key("db#007", tmp_path) == canonical_key(f"{tmp_path}/db#7")


def test_line_without_tab_is_an_error_naming_the_line(tmp_path):
    with pytest.raises(ValueError, match=r"p\.tsv:2: expected PATH<TAB>TEXT"):
        PredictionsFile(write(tmp_path / "p.tsv", "a.png\tok\nb.png no tab\n"))


def test_confidence_that_is_not_a_number_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="confidence 'high'"):
        PredictionsFile(write(tmp_path / "p.tsv", "a.png\tword\thigh\n"))


def test_conflicting_predictions_for_one_image_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="already has a different prediction"):
        PredictionsFile(write(tmp_path / "p.tsv", "a.png\tone\n./a.png\ttwo\n"))


def test_repeated_identical_prediction_is_accepted(tmp_path):
    source = PredictionsFile(write(tmp_path / "p.tsv", "a.png\tone\n./a.png\tone\n"))
    assert source.predict([sample(tmp_path / "a.png")]) == [("one", None)]


def test_predictions_file_does_not_need_images():
    assert PredictionsFile.needs_images is False


def test_tesseract_tsv_words_are_joined_with_mean_confidence():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = ["4\t1\t1\t1\t1\t0\t0\t0\t9\t9\t-1\t", "5\t1\t1\t1\t1\t1\t0\t0\t9\t9\t90\tNew",
            "5\t1\t1\t1\t1\t2\t0\t0\t9\t9\t70\tYork", "5\t1\t1\t1\t1\t3\t0\t0\t9\t9\t95\t "]
    text, confidence = parse_tesseract_tsv("\n".join([header, *rows]))
    assert text == "New York"
    assert confidence == pytest.approx(0.8)


def test_tesseract_tsv_without_words_is_empty_without_confidence():
    assert parse_tesseract_tsv("level\tpage_num\n1\t1\t0\t0\t0\t0\t0\t0\t9\t9\t-1\t\n") == ("", None)


def test_missing_tesseract_names_the_setup_script(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SourceError, match=r"sudo bash scripts/setup-system\.sh"):
        Tesseract()


def test_missing_rapidocr_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # makes the import fail
    with pytest.raises(SourceError, match=r"pip install 'sgtr\[pretrained\]'"):
        RapidOcr()


def test_missing_rapidocr_v4_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(SourceError, match=r"pip install 'sgtr\[rapidocr-v4\]'"):
        RapidOcrV4()


def _benchmark_crop(shared_data: Path) -> Sample:
    """IIIT5K image 1183, labelled 'café', which both engines read as 'Cafe'."""
    path = shared_data / "benchmarks" / "IIIT5K_3000" / "images" / "1183.jpg"
    return Sample(str(path), Image.open(path).convert("RGB"), "café")


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_a_benchmark_word(shared_data):
    [(text, confidence)] = Tesseract().predict([_benchmark_crop(shared_data)])
    assert text.lower() == "cafe"
    assert 0 < confidence <= 1


def test_rapidocr_reads_a_benchmark_word(shared_data):
    pytest.importorskip("rapidocr")
    [(text, confidence)] = RapidOcr().predict([_benchmark_crop(shared_data)])
    assert text.lower() == "café"  # its full character list has the accent
    assert 0 < confidence <= 1
