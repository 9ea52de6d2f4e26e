"""Words in photos: the DB post-processing on hand-made maps, the detector on rendered photos (boxes over the known
places), reading in reading order, turned photos, line splitting, the mode rule, and ``sgtr read --detect``."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from sgtr.cli.main import main
from sgtr.data.charset import Charset
from sgtr.inference.detection import DetectorMissing, TextDetector, boxes_from_map, detector_input_size, order_corners
from sgtr.inference.photo import PhotoReader, split_words
from tests.helpers.photos import FONT_DIR, WORDS, background, inside, render_photo

pytest.importorskip("rapidocr", reason="the detector ships in the rapidocr wheel (sgtr[pretrained])")


@pytest.fixture(scope="module")
def reader() -> PhotoReader:
    from sgtr import Recognizer

    return PhotoReader(Recognizer(threads=1), TextDetector(threads=1))


@pytest.fixture
def photo_file(tmp_path):
    photo, drawn = render_photo()
    path = tmp_path / "street.png"
    photo.save(path)
    return path, drawn


def test_input_size_is_a_multiple_of_32_and_never_upscaled():
    assert detector_input_size(420, 560, 960) == (416, 576)
    assert detector_input_size(3000, 1500, 960) == (960, 480)
    assert detector_input_size(10, 20, 960) == (32, 32)


def test_a_rectangle_of_text_probability_becomes_one_unclipped_box():
    prob = np.zeros((100, 200), dtype=np.float32)
    prob[40:52, 50:130] = 0.9  # 80 x 12 pixels
    (box,) = boxes_from_map(prob, unclip_ratio=1.5)
    assert box.score == pytest.approx(0.9, abs=1e-3)
    width = np.linalg.norm(box.corners[1] - box.corners[0])
    height = np.linalg.norm(box.corners[3] - box.corners[0])
    # The contour's rectangle is 79 x 11 (pixel centres); grown by area * 1.5 / perimeter on every side.
    grow = 2 * 79 * 11 * 1.5 / (2 * (79 + 11))
    assert width == pytest.approx(79 + grow, abs=0.5)
    assert height == pytest.approx(11 + grow, abs=0.5)


def test_regions_under_the_box_threshold_or_too_thin_are_dropped():
    prob = np.zeros((100, 200), dtype=np.float32)
    prob[10:30, 10:90] = 0.45  # above the binary threshold, below the box score threshold
    prob[60:62, 10:150] = 0.95  # two pixels tall
    assert boxes_from_map(prob, threshold=0.3, box_threshold=0.6) == []


def test_corners_start_at_the_top_left_of_a_tilted_line():
    angle = np.deg2rad(20)
    along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    top_left = np.array([50.0, 50.0])
    corners = np.array([top_left, top_left + 100 * along, top_left + 100 * along + 20 * across,
                        top_left + 20 * across])
    shuffled = corners[[2, 0, 3, 1]]
    np.testing.assert_allclose(order_corners(shuffled), corners, atol=1e-4)


def test_detector_finds_a_box_over_each_rendered_line_and_none_elsewhere(reader):
    photo, drawn = render_photo()
    boxes = reader.detector.detect(np.asarray(photo))
    assert len(boxes) == len(drawn)
    for text, box in drawn:
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        hits = [b for b in boxes if inside(centre, (*b.corners.min(0), *b.corners.max(0)))]
        assert len(hits) == 1, f"{text!r} at {box}: {len(hits)} boxes over its centre"
        low, high = hits[0].corners.min(0), hits[0].corners.max(0)
        assert low[0] <= box[0] + 4 and high[0] >= box[2] - 4, f"{text!r}: box does not span the word"


def test_words_come_back_read_in_reading_order_with_boxes_on_them(reader):
    photo, drawn = render_photo()
    reading = reader.read(photo)
    assert reading.mode == "words"
    # The bundled model reads case; the rendered test words are compared as papers do, case folded.
    assert [w.text.lower() for w in reading.words] == list(WORDS)
    assert [w.line for w in reading.words] == [0, 0, 1, 1, 2]
    assert reading.text.lower() == "open daily\ncoffee shop\nhello"
    lines = {text.lower(): box for text, box in drawn}
    for word in reading.words:
        centre = np.mean(word.box, axis=0)
        line = next(box for text, box in lines.items() if word.text.lower() in text)
        assert inside(centre, line), f"{word.text!r} box centre {centre} outside {line}"
        assert word.confidence > 0.5


def test_a_photo_without_text_has_no_words(reader):
    reading = reader.read(background(400, 300, seed=3))
    assert reading.words == [] and reading.text == ""
    assert reader.read(np.zeros((5, 7, 3), dtype=np.uint8)).words == []  # smaller than the detector's stride


def test_an_upside_down_photo_is_read_upright(reader):
    photo, _ = render_photo()
    reading = reader.read(photo.rotate(180))
    assert sorted(w.text.lower() for w in reading.words) == sorted(WORDS)


def test_a_photo_turned_a_quarter_is_read_along_its_lines(reader):
    photo, _ = render_photo()
    reading = reader.read(photo.rotate(-90, expand=True))  # lines now run top to bottom
    assert sorted(w.text.lower() for w in reading.words) == sorted(WORDS)


def line_crop(text: str, face: str = "DejaVuSans-Bold.ttf", points: int = 40) -> np.ndarray:
    """``text`` drawn dark on light and cut with a margin of 0.3 of its height, as the detector's boxes cut lines."""
    if not (FONT_DIR / face).is_file():
        pytest.skip("DejaVu fonts (fonts-dejavu-core) are not installed")
    font = ImageFont.truetype(str(FONT_DIR / face), points)
    image = Image.new("RGB", (2 * points + int(font.getlength(text)), 3 * points), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.text((points, points), text, font=font, fill=(30, 30, 60))
    x0, y0, x1, y1 = draw.textbbox((points, points), text, font=font)
    margin = int(0.3 * (y1 - y0))
    return np.asarray(image.crop((x0 - margin, y0 - margin, x1 + margin, y1 + margin)))


@pytest.mark.parametrize("points", [16, 40])
@pytest.mark.parametrize(("text", "count"), [("OPEN", 1), ("minimum", 1), ("coffee shop", 2), ("to 42 street", 3),
                                           ("it is a", 3), ("the quick brown fox", 4)])
def test_lines_split_at_spaces_and_not_between_letters(text, count, points):
    assert len(split_words(line_crop(text, points=points))) == count


def test_light_ink_on_dark_splits_like_dark_on_light():
    crop = line_crop("open daily")
    assert len(split_words(255 - crop)) == len(split_words(crop)) == 2


def test_lines_are_read_whole_when_the_charset_has_a_space():
    with_space = SimpleNamespace(charset=Charset(tuple("abc ")))
    without = SimpleNamespace(charset=Charset(tuple("abc")))
    assert PhotoReader(with_space, detector=object()).mode == "lines"
    assert PhotoReader(without, detector=object()).mode == "words"


def test_lines_mode_reads_one_result_per_detected_line(reader):
    photo, drawn = render_photo()
    lines = PhotoReader(reader.recognizer, reader.detector, mode="lines").read(photo)
    assert len(lines.words) == len(drawn)


def test_missing_rapidocr_is_one_line_naming_the_extra(monkeypatch):
    from sgtr.models.backbones import ppocr_import

    monkeypatch.setattr(ppocr_import.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DetectorMissing, match=r"pip install 'sgtr\[pretrained\]'"):
        TextDetector(threads=1)


def test_read_detect_prints_one_jsonl_row_per_word_and_annotates(photo_file, tmp_path, capsys):
    path, _ = photo_file
    out = tmp_path / "annotated.png"
    assert main(["read", str(path), "--detect", "--format", "jsonl", "--threads", "1", "--annotate", str(out)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"].lower() for r in rows] == list(WORDS)
    assert [r["word"] for r in rows] == list(range(len(WORDS)))
    assert all(len(r["box"]) == 4 and r["path"] == str(path) for r in rows)
    drawn = Image.open(out)
    assert drawn.size == Image.open(path).size
    assert np.abs(np.asarray(drawn, dtype=int) - np.asarray(Image.open(path).convert("RGB"), dtype=int)).max() > 0


def test_read_detect_csv_has_a_header_and_eight_corner_columns(photo_file, capsys):
    path, _ = photo_file
    assert main(["read", str(path), "--detect", "--format", "csv", "--threads", "1"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:5] == ["path", "word", "line", "text", "confidence"] and rows[0][5:13][::2] == ["x1", "x2", "x3",
                                                                                                     "x4"]
    assert [r[3].lower() for r in rows[1:]] == list(WORDS)


def test_read_detect_skips_an_unreadable_photo_and_reads_the_rest(photo_file, tmp_path, capsys):
    path, _ = photo_file
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["read", str(bad), str(path), "--detect", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert [line.split("\t")[1].lower() for line in captured.out.splitlines()] == list(WORDS)
    assert "1 photos read" in captured.err and "skipped" in captured.err


def test_annotate_without_detect_is_a_usage_error(photo_file, tmp_path, capsys):
    path, _ = photo_file
    assert main(["read", str(path), "--annotate", str(tmp_path / "x.png")]) == 2
    assert "--detect" in capsys.readouterr().err
