"""The evaluation loop on small hand-made sets: exact scores, skips, missing predictions and the error dump."""

from __future__ import annotations

import io
import json
import logging
import unicodedata
from pathlib import Path

import lmdb
import pytest
from PIL import Image

from sgtr.data import lmdb_format as fmt
from sgtr.data.datasets import open_dataset
from sgtr.data.skips import SkipLog
from sgtr.evaluation.evaluator import evaluate, evaluate_set
from sgtr.evaluation.protocols import get_protocol
from sgtr.evaluation.sources import PredictionsFile

# label, prediction (None: no line in the predictions file)
CASES = [
    ("Café", unicodedata.normalize("NFD", "Café")),  # same text, other normal form
    ("HELLO", "hello"),                                # case
    ("it's", "its"),                                   # punctuation
    ("!!", "!!"),                                      # empty under 36 and 62
    ("world", None),                                   # missing
    ("abc", "abd"),                                    # one substitution
]


def png(size: tuple[int, int] = (24, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def make_set(folder: Path, labels: list[str], images: dict[int, bytes] | None = None) -> Path:
    """A folder set with ``i.png`` for each label; ``images`` overrides the bytes of some files."""
    (folder / "images").mkdir(parents=True)
    lines = []
    for i, label in enumerate(labels):
        (folder / "images" / f"{i}.png").write_bytes((images or {}).get(i, png()))
        lines.append(f"images/{i}.png\t{label}")
    (folder / "labels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def predictions_for(folder: Path, predictions: list[str | None]) -> PredictionsFile:
    lines = [f"images/{i}.png\t{text}" for i, text in enumerate(predictions) if text is not None]
    path = folder / "predictions.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PredictionsFile(path)


class NameSource:
    """Needs pixels and answers by file name: what a model source looks like to the evaluator."""

    name = "by-name"

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.seen: list[str] = []

    def predict(self, batch):
        assert all(isinstance(s.image, Image.Image) for s in batch)
        self.seen += [Path(s.key).name for s in batch]
        return [(self.answers.get(Path(s.key).name, ""), 0.5) for s in batch]


@pytest.fixture
def case_set(tmp_path) -> tuple[Path, PredictionsFile]:
    folder = make_set(tmp_path / "cases", [label for label, _ in CASES])
    return folder, predictions_for(folder, [prediction for _, prediction in CASES])


def test_protocol_36_scores_the_hand_made_cases_exactly(case_set):
    folder, source = case_set
    result = evaluate_set("cases", open_dataset(folder), source, get_protocol("36"))
    # Scored: café ok, hello ok, its ok, world missing (0), abc/abd (2/3); "!!" is skipped as empty.
    assert (result.scored, result.correct, result.skipped_empty, result.missing) == (5, 3, 1, 1)
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.one_minus_ned == pytest.approx((1 + 1 + 1 + 0 + 2 / 3) / 5)


def test_raw_protocol_counts_case_and_punctuation_but_not_normal_form(case_set):
    folder, source = case_set
    result = evaluate_set("cases", open_dataset(folder), source, get_protocol("raw"))
    # Café ok (NFC), HELLO/hello 0, it's/its 3/4, !! ok, world missing 0, abc/abd 2/3.
    assert (result.scored, result.correct, result.skipped_empty) == (6, 2, 0)
    assert result.one_minus_ned == pytest.approx((1 + 0 + 3 / 4 + 1 + 0 + 2 / 3) / 6)


def test_missing_predictions_are_counted_and_logged(case_set, caplog):
    folder, source = case_set
    with caplog.at_level(logging.WARNING, logger="sgtr.evaluation"):
        result = evaluate_set("cases", open_dataset(folder), source, get_protocol("36"))
    assert result.missing == 1
    assert "1 samples have no prediction" in caplog.text and "4.png" in caplog.text


def test_error_dump_holds_each_wrong_prediction_once(case_set):
    folder, source = case_set
    errors = io.StringIO()
    evaluate_set("cases", open_dataset(folder), source, get_protocol("36"), errors=errors)
    records = [json.loads(line) for line in errors.getvalue().splitlines()]
    assert [(Path(r["key"]).name, r["prediction_clean"], r["missing"]) for r in records] == [
        ("4.png", "", True), ("5.png", "abd", False)]
    assert records[1]["label"] == "abc" and records[1]["set"] == "cases"


def test_unreadable_samples_are_skipped_counted_and_named_once(tmp_path, caplog):
    folder = make_set(tmp_path / "s", ["good", "corrupt", "empty", "other"],
                      images={1: png()[:30], 2: b""})
    source = NameSource({"0.png": "good", "3.png": "other"})
    skips = SkipLog()
    with caplog.at_level(logging.WARNING, logger="sgtr.data"):
        result = evaluate({"a": open_dataset(folder), "b": open_dataset(folder)}, source, get_protocol("36"),
                          skips=skips)
    assert [(s.scored, s.skipped_bad, s.accuracy) for s in result.sets] == [(2, 2, 1.0), (2, 2, 1.0)]
    assert len(skips) == 2 and len(result.skipped) == 2  # the second set shares the files: named once
    assert sum("1.png" in r.message for r in caplog.records) == 1
    assert sum("2.png" in r.message for r in caplog.records) == 1


def test_malformed_label_list_lines_count_as_unreadable(tmp_path):
    folder = make_set(tmp_path / "s", ["word"])
    with open(folder / "labels.tsv", "a", encoding="utf-8") as f:
        f.write("no-tab-here\n")
    result = evaluate_set("s", open_dataset(folder), NameSource({"0.png": "word"}), get_protocol("36"))
    assert (result.scored, result.skipped_bad, result.correct) == (1, 1, 1)


def test_samples_empty_after_cleaning_are_not_sent_to_the_source(tmp_path):
    folder = make_set(tmp_path / "s", ["ok", "--", "fine"])
    source = NameSource({})
    evaluate_set("s", open_dataset(folder), source, get_protocol("36"), batch_size=2)
    assert source.seen == ["0.png", "2.png"]


def test_image_sources_get_a_speed_and_a_confidence(tmp_path):
    folder = make_set(tmp_path / "s", ["a", "b"])
    result = evaluate_set("s", open_dataset(folder), NameSource({}), get_protocol("36"))
    assert result.images_per_second > 0 and result.mean_confidence == 0.5


def test_predictions_file_gets_no_speed(case_set):
    folder, source = case_set
    assert evaluate_set("cases", open_dataset(folder), source, get_protocol("36")).images_per_second is None


def test_limit_keeps_the_first_samples(tmp_path):
    folder = make_set(tmp_path / "s", ["a", "b", "c", "d"])
    source = NameSource({})
    result = evaluate_set("s", open_dataset(folder), source, get_protocol("36"), limit=3)
    assert result.scored == 3 and source.seen == ["0.png", "1.png", "2.png"]


def test_source_returning_the_wrong_number_of_predictions_is_an_error(tmp_path):
    class Short:
        name = "short"

        def predict(self, batch):
            return []

    folder = make_set(tmp_path / "s", ["a"])
    with pytest.raises(RuntimeError, match="returned 0 predictions for 1 samples"):
        evaluate_set("s", open_dataset(folder), Short(), get_protocol("36"))


def test_predictions_file_scores_lmdb_samples_by_index_without_decoding(tmp_path):
    db = tmp_path / "lmdb"
    with lmdb.open(str(db), map_size=1 << 20) as env, env.begin(write=True) as txn:
        txn.put(fmt.NUM_SAMPLES_KEY, b"3")
        for i, label in enumerate(["one", "two", "three"], 1):
            txn.put(fmt.image_key(i), b"not an image: never decoded here")
            txn.put(fmt.label_key(i), label.encode())
    predictions = tmp_path / "p.tsv"
    predictions.write_text("lmdb#1\tone\nlmdb#2\tTWO\nlmdb#3\tthree!\n", encoding="utf-8")
    result = evaluate_set("lmdb", open_dataset(db), PredictionsFile(predictions), get_protocol("62"))
    assert (result.scored, result.correct, result.skipped_bad, result.missing) == (3, 2, 0, 0)


def test_means_count_ic13_once_and_every_scored_sample_is_kept(tmp_path):
    """IC13_857 lies inside IC13_1015: the means count only the larger set, and each reading is in the result."""
    class Echo:
        name, needs_images = "echo", False

        def predict(self, batch):
            return [("right" if s.label == "right" else "wrong", None) for s in batch]

    sets = {}
    for name, labels in (("IC13_857", ["right", "x"]), ("IC13_1015", ["right", "x", "y", "z"]), ("SVT", ["right"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "labels.tsv").write_text("".join(f"{i}.png\t{t}\n" for i, t in enumerate(labels)))
        sets[name] = open_dataset(tmp_path / name)
    result = evaluate(sets, Echo(), get_protocol("36"))
    assert result.distinct == ["IC13_1015", "SVT"] and result.left_out == {"IC13_857": "IC13_1015"}
    assert result.distinct_mean.accuracy == pytest.approx((0.25 + 1.0) / 2)
    assert result.weighted_mean.accuracy == pytest.approx(2 / 5)
    assert [(s.label, s.prediction, s.correct) for s in result.sets[0].samples] == [("right", "right", True),
                                                                                   ("x", "wrong", False)]
