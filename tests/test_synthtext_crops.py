"""``sgtr data synthtext-crops``: a small SynthText folder written here (scipy's savemat, generated images, known
boxes) cut into word crops whose character masks must be the character boxes rectified with the word."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sgtr.cli.main import main
from sgtr.data.charset import Charset
from sgtr.data.datasets import LmdbDataset
from sgtr.data.synthtext import CropSize, SynthTextError, load_ground_truth, write_synthtext_crops

scipy_io = pytest.importorskip("scipy.io")

BACKGROUND = (128, 128, 128)
MARGIN = 4  # canonical pixels between a character box and its neighbours or the word's edge, at most


def _cell(items: list) -> np.ndarray:
    """A MATLAB cell array (savemat writes a 1×n object array as one)."""
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _char_rects(width: float, height: float, count: int) -> list[np.ndarray]:
    """Canonical character boxes: the word's width shared equally, a margin (``MARGIN``, less in a tiny word) kept
    clear around each."""
    step = width / count
    m = min(MARGIN, 0.15 * step, 0.15 * height)
    return [_rect(t * step + m, m, (t + 1) * step - m, height - m) for t in range(count)]


class Word:
    """A word laid out upright in its own ``width``×``height`` frame and placed in the scene by the projective map
    onto ``quad`` (TL, TR, BR, BL); the test's own geometry, made with OpenCV rather than sgtr's."""

    def __init__(self, text: str, width: float, height: float, quad):
        self.text, self.width, self.height = text, width, height
        self.quad = np.asarray(quad, dtype=np.float64)
        self.to_scene = cv2.getPerspectiveTransform(_rect(0, 0, width, height).astype(np.float32),
                                                    self.quad.astype(np.float32))
        self.char_rects = _char_rects(width, height, len(text))

    def char_quads(self) -> list[np.ndarray]:
        return [cv2.perspectiveTransform(r[None].astype(np.float64), self.to_scene)[0] for r in self.char_rects]

    def paint(self, image: np.ndarray, colours: list[tuple[int, int, int]]) -> None:
        """Fill each character's box, as seen in the scene, with its colour (by pixel centre)."""
        h, w = image.shape[:2]
        ys, xs = np.mgrid[0:h, 0:w]
        centres = np.stack([xs + 0.5, ys + 0.5], axis=-1).reshape(-1, 1, 2).astype(np.float64)
        frame = cv2.perspectiveTransform(centres, np.linalg.inv(self.to_scene)).reshape(h, w, 2)
        for (x0, y0), _, (x1, y1), _ in self.char_rects:
            inside = (frame[..., 0] >= x0) & (frame[..., 0] < x1) & (frame[..., 1] >= y0) & (frame[..., 1] < y1)
            image[inside] = colours.pop(0)


def _boxes(quads: list[np.ndarray], squeeze: bool = False) -> np.ndarray:
    """SynthText's 2×4×K layout; MATLAB drops the last axis when K = 1."""
    boxes = np.stack(quads, axis=-1).transpose(1, 0, 2)
    return boxes[..., 0] if squeeze and boxes.shape[-1] == 1 else boxes


# Every character its own colour, so a crop's pixels tell which box they came from.
COLOURS = [(230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 230, 30), (200, 30, 200), (30, 200, 200),
           (250, 140, 0), (0, 90, 40), (90, 0, 140), (250, 250, 250)]

ROTATED = [  # three words in two txt strings, one of them holding two words
    Word("ab", 80, 40, cv2.transform(_rect(20, 20, 100, 60)[None], cv2.getRotationMatrix2D((60, 40), -20, 1))[0]),
    Word("cd", 80, 50, [[130, 20], [220, 30], [215, 85], [135, 70]]),
    Word("e", 30, 40, _rect(30, 110, 60, 150)),
]
TALL = Word("xyz", 300, 100, _rect(50, 100, 350, 200))  # the only word of its image, shrunk to the height cap
TINY = Word("Q", 8, 10, _rect(20, 15, 28, 25))  # one word of one character, raised to the minimum height
# Words of a third entry on the rotated scene: two fine, one flat box, one reaching out of the image.
OK = Word("ok", 60, 30, _rect(80, 140, 140, 170))
CEDILLA = Word("ça", 50, 30, _rect(150, 140, 200, 170))
FLAT = [[10, 100], [40, 100], [70, 100], [100, 100]]
FAR = _rect(200, 120, 300, 140)

EXPECTED_LABELS = ["ab", "cd", "e", "xyz", "Q", "ok", "ça"]
EXPECTED_SKIPS = {
    "scenes/missing.png word 0": "file not found",
    "scenes/tall.jpg word 0": "character count mismatch (txt holds 5 characters, charBB 3 boxes)",
    "scenes/rotated.png word 1": "degenerate word box",
    "scenes/rotated.png word 2": "word box outside the image",
}


def _write_synthtext(root: Path) -> None:
    scenes = root / "scenes"
    scenes.mkdir(parents=True)
    rotated = np.full((180, 240, 3), BACKGROUND, dtype=np.uint8)
    colours = list(COLOURS)
    for word in ROTATED:
        word.paint(rotated, colours)
    Image.fromarray(rotated).save(scenes / "rotated.png")
    tall = np.full((300, 400, 3), BACKGROUND, dtype=np.uint8)
    TALL.paint(tall, list(COLOURS))
    Image.fromarray(tall).save(scenes / "tall.jpg", quality=98, subsampling=0)
    tiny = np.full((40, 60, 3), BACKGROUND, dtype=np.uint8)
    TINY.paint(tiny, list(COLOURS))
    Image.fromarray(tiny).save(scenes / "tiny.png")

    flat_chars = [np.asarray(FLAT, dtype=np.float64)] * 4
    far_chars = _char_rects(100, 20, 3)
    entries = [
        ("scenes/rotated.png", [w.quad for w in ROTATED], [q for w in ROTATED for q in w.char_quads()],
         ["ab cd", "e"], False),
        ("scenes/tall.jpg", [TALL.quad], TALL.char_quads(), ["xyz"], True),
        ("scenes/tiny.png", [TINY.quad], TINY.char_quads(), ["Q"], True),
        ("scenes/missing.png", [TINY.quad], TINY.char_quads(), ["Q"], True),
        ("scenes/tall.jpg", [TALL.quad], TALL.char_quads(), ["xyzzy"], True),  # five characters, three boxes
        ("scenes/rotated.png", [OK.quad, np.asarray(FLAT, np.float64), FAR, CEDILLA.quad],
         OK.char_quads() + flat_chars + [q + FAR[0] for q in far_chars] + CEDILLA.char_quads(),
         ["ok flat\nfar", "ça"], False),
    ]
    scipy_io.savemat(root / "gt.mat", {
        "imnames": _cell([name for name, *_ in entries]),
        "wordBB": _cell([_boxes(words, squeeze) for _, words, _, _, squeeze in entries]),
        "charBB": _cell([_boxes(chars, squeeze) for _, _, chars, _, squeeze in entries]),
        "txt": _cell([_cell(txt) for *_, txt, _ in entries]),
    })


@pytest.fixture(scope="module")
def synthtext(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("SynthText")
    _write_synthtext(root)
    return root


@pytest.fixture(scope="module")
def converted(synthtext, tmp_path_factory):
    out = tmp_path_factory.mktemp("crops") / "db"
    report = write_synthtext_crops(synthtext, out, image_format="png")
    return report, LmdbDataset(out)


def _samples(dataset: LmdbDataset) -> dict:
    return {dataset[i].label: dataset[i] for i in range(len(dataset))}


def _assert_mask_is_rectified_boxes(mask: np.ndarray, word: Word) -> None:
    """Each character's mask region equals its canonical box scaled into the crop, to within a pixel."""
    h, w = mask.shape
    scale = np.array([w / word.width, h / word.height])
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    for t, rect in enumerate(word.char_rects, 1):
        (x0, y0), (x1, y1) = rect[0] * scale, rect[2] * scale
        inner = (xs > x0 + 1) & (xs < x1 - 1) & (ys > y0 + 1) & (ys < y1 - 1)
        outer = (xs > x0 - 1) & (xs < x1 + 1) & (ys > y0 - 1) & (ys < y1 + 1)
        assert (mask[inner] == t).all(), f"{word.text!r} character {t}: holes inside its box"
        assert not (mask[~outer] == t).any(), f"{word.text!r} character {t}: pixels outside its box"


def test_each_character_mask_is_its_box_rectified_into_the_crop(converted):
    samples = _samples(converted[1])
    for word in [*ROTATED, TALL, TINY, OK]:
        _assert_mask_is_rectified_boxes(samples[word.text].mask, word)


def test_crop_pixels_under_each_mask_id_show_that_characters_paint(converted):
    samples = _samples(converted[1])
    colours = iter(COLOURS)
    for word in ROTATED:
        sample = samples[word.text]
        image = np.asarray(sample.image, dtype=np.int16)
        core = cv2.erode(sample.mask, np.ones((5, 5), np.uint8))  # near edges the bicubic resampling blends
        for t in range(1, len(word.text) + 1):
            assert np.abs(image[core == t] - next(colours)).max() <= 12
        assert np.abs(image[cv2.dilate(sample.mask, np.ones((5, 5), np.uint8)) == 0] - BACKGROUND).max() <= 12


def test_mask_ids_run_one_to_n_in_reading_order(converted):
    for sample in _samples(converted[1]).values():
        ids = np.unique(sample.mask)
        assert ids.tolist() == list(range(len(sample.label) + 1))
        centres = [np.nonzero(sample.mask == t)[1].mean() for t in ids[1:]]
        assert centres == sorted(centres)


def test_multi_word_txt_strings_split_into_one_sample_per_word(converted):
    dataset = converted[1]
    assert [dataset[i].label for i in range(len(dataset))] == EXPECTED_LABELS


def test_squeezed_single_word_and_single_character_boxes_are_read(synthtext, converted):
    fields = load_ground_truth(synthtext / "gt.mat")
    assert np.asarray(fields["wordBB"][2]).shape == (2, 4) and np.asarray(fields["charBB"][2]).shape == (2, 4)
    samples = _samples(converted[1])
    assert samples["Q"].mask.max() == 1 and samples["xyz"].mask.max() == 3


def test_crops_keep_the_words_own_height_within_the_range(converted):
    samples = _samples(converted[1])
    assert samples["ab"].image.size == (80, 40)  # a rotated 80x40 word, upright at its own size
    assert samples["xyz"].image.size == (192, 64)  # 100 high, capped at 64 with its aspect kept
    assert samples["Q"].image.size == (13, 16)  # 10 high, raised to 16
    assert CropSize(32, 32).of(TALL.quad) == (96, 32)


def test_bad_entries_are_named_once_each_and_skipped_while_the_good_ones_are_written(converted):
    report, dataset = converted
    named = {skip.key: skip.reason for skip in report.skips.skips}
    assert set(named) == set(EXPECTED_SKIPS)
    for key, reason in EXPECTED_SKIPS.items():
        assert named[key].startswith(reason)
    assert report.images == 6 and report.written == len(dataset) == len(EXPECTED_LABELS)


def test_words_outside_the_charset_are_skipped_with_their_label(synthtext, tmp_path):
    report = write_synthtext_crops(synthtext, tmp_path / "db", charset=Charset.from_spec("36"))
    assert report.skips.skips[-1].key == "scenes/rotated.png word 3"
    assert report.skips.skips[-1].reason == "characters outside the charset: ç (label 'ça')"
    assert report.written == len(EXPECTED_LABELS) - 1


def test_the_cli_prints_what_it_wrote_and_skipped(synthtext, tmp_path, capsys, caplog):
    out = tmp_path / "db"
    with caplog.at_level(logging.WARNING, logger="sgtr.data"):
        assert main(["data", "synthtext-crops", str(synthtext), str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"wrote 7 word crops from 6 images to {out}; 4 samples skipped (1 file not found, 1 character count "
        "mismatch, 1 degenerate word box, 1 word box outside the image)")
    assert sum("skipped scenes/" in r.getMessage() for r in caplog.records) == len(EXPECTED_SKIPS)
    assert len(LmdbDataset(out)) == len(EXPECTED_LABELS)


def test_a_file_that_is_not_matlab_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "gt.mat").write_bytes(b"not a MATLAB file")
    assert main(["data", "synthtext-crops", str(tmp_path), str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable MATLAB file" in err[0]
    assert not (tmp_path / "db").exists()


def test_without_scipy_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "scipy.io", None)
    with pytest.raises(SynthTextError, match=r"sgtr\[synthtext\]"):
        load_ground_truth(tmp_path / "gt.mat")
