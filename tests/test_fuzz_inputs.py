"""Hostile data inputs, fuzzed: image bytes, label lists, LMDB records and charset files.

Every reader must turn bad input into the project's one-line errors (``BadImage``, ``ValueError`` naming the file) or
``Skip`` records, never an uncaught exception; for the list and dataset readers, every item that goes in comes out
as exactly one sample or one skip. Hypothesis runs derandomised and bounded, so the suite is repeatable and fast.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import lmdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sgtr.data import lmdb_format as fmt
from sgtr.data.charset import Charset
from sgtr.data.datasets import FolderDataset, LmdbDataset
from sgtr.data.images import MAX_PIXELS, BadImage, decode_image, load_image
from sgtr.data.labels import LabelledPath, parse_label_file
from sgtr.data.lmdb_writer import create_lmdb
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip
from tests.helpers.fuzz import fresh_dir, fuzz_settings

FUZZ = fuzz_settings(60)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def decoded_or_none(data: bytes) -> Image.Image | None:
    """The decoded image, or None after checking the refusal is a one-line ``BadImage``."""
    try:
        image = decode_image(data)
    except BadImage as exc:
        assert str(exc) and "\n" not in str(exc)
        return None
    assert image.mode == "RGB" and image.width > 0 and image.height > 0
    return image


def encode(image: Image.Image, format: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format, **options)
    return buf.getvalue()


def noise(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def png_header(width: int, height: int, colour_type: int = 2) -> bytes:
    """A PNG declaring ``width`` × ``height`` with a few bytes of pixel data: what a decompression bomb looks like."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ---- image decoding ---------------------------------------------------------------------------------------------
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF\0\0\0\0WEBP",
         b"DDS |\0\0\0", b"\0\0\1\0", b"P6\n"]


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=600))
def test_random_bytes_decode_or_are_one_line_bad_images(magic, tail):
    decoded_or_none(magic + tail)


@FUZZ
@given(st.sampled_from(["PNG", "JPEG"]), st.integers(1, 48), st.integers(1, 48), st.integers(0, 2**32 - 1),
       st.data())
def test_truncated_png_and_jpeg_are_bad_images_or_keep_their_size(format, width, height, seed, data):
    encoded = encode(noise(seed, (width, height)), format)
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    image = decoded_or_none(encoded[:cut])
    assert image is None or image.size == (width, height)


FORMATS = [("PNG", "RGB", {}), ("JPEG", "RGB", {}), ("TIFF", "RGB", {}), ("BMP", "RGB", {}), ("GIF", "P", {}),
           ("WEBP", "RGB", {}), ("ICO", "RGBA", {}), ("DDS", "RGBA", {}), ("PPM", "RGB", {}), ("TGA", "RGB", {}),
           ("JPEG", "RGB", {"exif": b"Exif\0\0MM\0*\0\0\0\x08\0\1\1\x12\0\3\0\0\0\1\0\6\0\0\0\0\0\0"})]


@FUZZ
@given(st.sampled_from(FORMATS), st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1,
                                          max_size=6))
def test_mutated_files_of_common_formats_decode_or_are_bad_images(form, edits):
    format, mode, options = form
    data = bytearray(encode(noise(0, (13, 7)).convert(mode), format, **options))
    for position, value in edits:
        # Headers are where parsers go wrong: most edits land in the first 100 bytes.
        data[position % min(100, len(data)) if position % 3 else position % len(data)] = value
    decoded_or_none(bytes(data))


@FUZZ
@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_huge_declared_dimensions_are_refused_before_decoding(width, height):
    if width * height <= MAX_PIXELS:
        height = MAX_PIXELS // width + 1
    with pytest.raises(BadImage, match="exceeds|bomb|corrupt"):
        decode_image(png_header(width, height))


@FUZZ
@given(st.integers(0, 2**31 - 1), st.booleans())
def test_zero_sized_images_are_bad_images(side, zero_width):
    with pytest.raises(BadImage):
        decode_image(png_header(0, side) if zero_width else png_header(side, 0))


# Each mode in a format that stores it as it is.
MODES = [("1", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGBA", "PNG"), ("I;16", "PNG"), ("CMYK", "TIFF"),
         ("YCbCr", "TIFF"), ("LAB", "TIFF"), ("I", "TIFF"), ("F", "TIFF"), ("PA", "TIFF"), ("I;16B", "TIFF"),
         ("CMYK", "JPEG"), ("L", "JPEG")]


@FUZZ
@given(st.sampled_from(MODES), st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_any_mode_and_size_becomes_rgb_of_the_same_size(mode_format, width, height, seed):
    mode, format = mode_format
    if mode.startswith("I;16"):
        pixels = np.random.default_rng(seed).integers(0, 65536, (height, width), dtype=np.uint16)
        image = Image.fromarray(pixels.astype(">u2" if mode == "I;16B" else "<u2"))
    else:
        image = noise(seed, (width, height)).convert(mode)
    out = decode_image(encode(image, format))
    assert out.mode == "RGB" and out.size == (width, height)


def test_exif_with_a_malformed_tag_is_a_bad_image():
    # ImageWidth (0x0100) holding text: rewriting the EXIF while rotating raises struct.error inside Pillow.
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "desc"
    raw = exif.tobytes().replace(b"\x01\x0e\x00\x02", b"\x01\x00\x00\x02")
    with pytest.raises(BadImage, match="corrupt"):
        decode_image(encode(Image.new("RGB", (13, 7)), "JPEG", exif=raw))


def test_dds_with_an_unknown_pixel_format_is_a_bad_image():
    data = bytearray(encode(Image.new("RGBA", (4, 4)), "DDS"))
    data[80:84] = b"\0\0\0\0"  # the pixel format's flags: Pillow raises NotImplementedError
    with pytest.raises(BadImage, match="NotImplementedError"):
        decode_image(bytes(data))


@pytest.mark.parametrize("name", ["folder", "x" * 300 + ".png", "nul\0.png"])
def test_unreadable_paths_are_bad_images(tmp_path, name):
    (tmp_path / "folder").mkdir()
    with pytest.raises(BadImage, match="cannot read|directory") as info:
        load_image(str(tmp_path) + "/" + name)
    assert "\n" not in str(info.value)


# ---- labels.tsv and gt.txt --------------------------------------------------------------------------------------
def nonblank_line_numbers(raw: bytes) -> list[int]:
    return [n for n, line in enumerate(raw.split(b"\n"), 1) if line.removesuffix(b"\r").strip()]


def assert_one_outcome_per_line(list_file: Path, raw: bytes) -> tuple[list[LabelledPath], list[Skip]]:
    items, skips = parse_label_file(list_file)
    lines = sorted(int(x.key.rsplit(":", 1)[1]) for x in [*items, *skips])
    assert lines == nonblank_line_numbers(raw)  # each non-blank line: one item or one skip, never both or neither
    assert all(s.reason and "\n" not in s.reason for s in skips)
    return items, skips


@FUZZ
@given(st.sampled_from(["labels.tsv", "gt.txt"]), st.binary(max_size=400))
def test_random_bytes_in_a_label_list_give_one_item_or_one_skip_per_line(workdir, name, raw):
    list_file = fresh_dir(workdir) / name
    list_file.write_bytes(raw)
    assert_one_outcome_per_line(list_file, raw)


@FUZZ
@given(st.sampled_from(["labels.tsv", "gt.txt"]),
       st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=30), max_size=12))
def test_any_text_in_a_label_list_gives_one_item_or_one_skip_per_line(workdir, name, lines):
    list_file = fresh_dir(workdir) / name
    raw = "\n".join(lines).encode("utf-8")
    list_file.write_bytes(raw)
    assert_one_outcome_per_line(list_file, raw)


# No tab inside a label: a third column is refused as a whole-file error (tests/test_labels.py covers that).
LABEL_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\n\t"), max_size=40)
LINES = st.one_of(
    st.tuples(st.just("good"), st.from_regex(r"[a-z0-9_./-]{1,20}", fullmatch=True), LABEL_TEXT),
    st.tuples(st.just("long"), st.just("p.png"), st.text("ab\r é", min_size=1000, max_size=3000)),
    st.tuples(st.just("no tab"), st.from_regex(r"[a-z0-9.]{1,20}", fullmatch=True), st.just("")),
    st.tuples(st.just("not utf-8"), st.just("p.png"), st.just("\udcff")),
    st.tuples(st.just("nul"), st.just("a\0b.png"), st.just("x")),
    st.tuples(st.just("blank"), st.text(" \t\r\x0b\x0c", max_size=4), st.just("")),
)


@FUZZ
@given(st.lists(LINES, max_size=15), st.booleans())
def test_labels_tsv_keeps_every_label_exactly_and_skips_each_bad_line_once(workdir, lines, crlf):
    folder = fresh_dir(workdir)
    encoded = []
    for kind, path, label in lines:
        text = path if kind in ("no tab", "blank") else f"{path}\t{label}"
        encoded.append(text.encode("utf-8", "surrogateescape"))
    ending = b"\r\n" if crlf else b"\n"
    raw = b"".join(line + ending for line in encoded)
    (folder / "labels.tsv").write_bytes(raw)
    items, skips = assert_one_outcome_per_line(folder / "labels.tsv", raw)
    good = [(path, label) for kind, path, label in lines if kind in ("good", "long")]
    # One CR ending a label is the line ending, when the file has no CRLF line endings of its own.
    assert [i.label for i in items] == [label if crlf else label.removesuffix("\r") for _, label in good]
    assert [i.path for i in items] == [(folder / path).resolve() for path, _ in good]
    assert len(skips) == sum(kind in ("no tab", "not utf-8", "nul") for kind, _, _ in lines)


def test_missing_label_list_is_a_file_not_found_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.tsv"):
        parse_label_file(tmp_path / "labels.tsv")


# One file per listed image, each good or bad in its own way.
KINDS = ["good", "corrupt", "empty", "truncated", "missing", "folder", "name too long"]


def make_image_file(folder: Path, index: int, kind: str) -> str:
    name = f"{index}.png" if kind != "name too long" else f"{index}" + "x" * 300 + ".png"
    path = folder / name
    good = encode(noise(index, (12, 6)), "PNG")
    if kind == "good":
        path.write_bytes(good)
    elif kind == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "folder":
        path.mkdir()
    return name


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KINDS), LABEL_TEXT.filter(lambda s: "\t" not in s and "\r" not in s)),
                max_size=10))
def test_folder_dataset_gives_one_sample_or_one_skip_per_listed_image(workdir, entries):
    folder = fresh_dir(workdir)
    names = [make_image_file(folder, i, kind) for i, (kind, _) in enumerate(entries)]
    (folder / "labels.tsv").write_text("".join(f"{n}\t{label}\n" for n, (_, label) in zip(names, entries)))
    dataset = FolderDataset(folder / "labels.tsv")
    assert len(dataset) == len(entries) and not dataset.list_skips
    outcomes = [dataset[i] for i in range(len(dataset))]
    for (kind, label), out in zip(entries, outcomes):
        if kind == "good":
            assert isinstance(out, Sample) and out.label == label
        else:
            assert isinstance(out, Skip) and out.reason and "\n" not in out.reason, (kind, out)


@settings(FUZZ, max_examples=25)
@given(st.lists(st.sampled_from(KINDS), max_size=10))
def test_create_lmdb_writes_every_good_image_and_names_every_bad_one_once(workdir, kinds):
    folder = fresh_dir(workdir)
    items = [LabelledPath((folder / make_image_file(folder, i, kind)).resolve(), f"w{i}", f"labels.tsv:{i + 1}")
             for i, kind in enumerate(kinds)]
    report = create_lmdb(items, folder / "db")
    assert report.written == kinds.count("good")
    bad = [str(item.path) for item, kind in zip(items, kinds) if kind != "good"]
    assert [s.key for s in report.skipped.skips] == bad
    dataset = LmdbDataset(folder / "db")
    assert [dataset[i].label for i in range(len(dataset))] == [f"w{i}" for i, k in enumerate(kinds) if k == "good"]


# ---- LMDB records -----------------------------------------------------------------------------------------------
def mask_png(width: int, height: int, mode: str = "L") -> bytes:
    return encode(Image.new(mode, (width, height), 1), "PNG")


IMAGES = st.one_of(st.just(("good", encode(noise(1, (12, 6)), "PNG"))),
                   st.binary(max_size=80).map(lambda b: ("random", b)),
                   st.just(("truncated", encode(noise(2, (12, 6)), "PNG")[:60])), st.just(("missing", None)))
LABELS = st.one_of(st.text(max_size=30).map(str.encode), st.binary(max_size=30),
                   st.none())
MASKS = st.sampled_from(["good", "random", "other size", "rgb", "huge", "missing"])


def mask_value(kind: str) -> bytes | None:
    return {"good": mask_png(12, 6), "random": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0", "other size": mask_png(6, 12),
            "rgb": mask_png(12, 6, "RGB"), "huge": png_header(60000, 60000, colour_type=0), "missing": None}[kind]


def expected_good(image: tuple[str, bytes | None], label: bytes | None, mask: str, masks_on: bool) -> bool:
    if image[1] is None or label is None:
        return False
    try:
        label.decode("utf-8")
        decode_image(image[1])
    except (UnicodeDecodeError, BadImage):
        return False
    return not masks_on or mask in ("good", "missing")


@FUZZ
@given(st.lists(st.tuples(IMAGES, LABELS, MASKS), min_size=1, max_size=8), st.integers(0, 3))
def test_lmdb_records_give_one_sample_or_one_skip_each(workdir, records, extra):
    path = fresh_dir(workdir)
    with lmdb.open(str(path), map_size=1 << 24) as env, env.begin(write=True) as txn:
        for i, (image, label, mask) in enumerate(records, 1):
            for key, value in ((fmt.image_key(i), image[1]), (fmt.label_key(i), label),
                               (fmt.mask_key(i), mask_value(mask))):
                if value is not None:
                    txn.put(key, value)
        # num-samples may count records that are not there: each of those is a skip too.
        txn.put(fmt.NUM_SAMPLES_KEY, str(len(records) + extra).encode())
    dataset = LmdbDataset(path)
    masks_on = records[0][2] != "missing"
    outcomes = [dataset[i] for i in range(len(dataset))]
    assert len(outcomes) == len(records) + extra
    assert len({o.key for o in outcomes}) == len(outcomes)
    for (image, label, mask), out in zip(records + [(("missing", None), None, "missing")] * extra, outcomes):
        assert isinstance(out, Sample) == expected_good(image, label, mask, masks_on), (image, label, mask, out)
        if isinstance(out, Skip):
            assert out.reason and "\n" not in out.reason


@FUZZ
@given(st.one_of(st.binary(max_size=12), st.integers(-10**6, 10**6).map(lambda n: str(n).encode())))
def test_lmdb_num_samples_is_a_count_or_a_one_line_error_naming_the_file(workdir, raw):
    path = fresh_dir(workdir)
    with lmdb.open(str(path), map_size=1 << 20) as env, env.begin(write=True) as txn:
        txn.put(fmt.NUM_SAMPLES_KEY, raw)
    try:
        count = int(raw.decode().strip())
    except (UnicodeDecodeError, ValueError):
        count = -1
    if count >= 0:
        assert len(LmdbDataset(path)) == count
    else:
        with pytest.raises(ValueError, match="num-samples") as info:
            LmdbDataset(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_lmdb_without_num_samples_is_a_one_line_error(tmp_path):
    with lmdb.open(str(tmp_path / "db"), map_size=1 << 20) as env, env.begin(write=True) as txn:
        txn.put(fmt.image_key(1), b"x")
    with pytest.raises(ValueError, match="no 'num-samples' key"):
        LmdbDataset(tmp_path / "db")


@pytest.mark.parametrize("damage", ["truncated to 3 pages", "truncated to half", "random bytes", "empty"])
def test_damaged_data_mdb_is_a_value_error_naming_it_not_a_crash(tmp_path, damage):
    # Reading a truncated data.mdb used to kill the process with SIGBUS (LMDB maps the file into memory).
    images = tmp_path / "images"
    images.mkdir()
    items = [LabelledPath((images / make_image_file(images, i, "good")).resolve(), "w", "l") for i in range(60)]
    create_lmdb(items, tmp_path / "db")
    data_file = tmp_path / "db" / "data.mdb"
    data = data_file.read_bytes()
    damaged = {"truncated to 3 pages": data[:3 * 4096], "truncated to half": data[: len(data) // 2],
               "random bytes": np.random.default_rng(0).bytes(len(data)), "empty": b""}[damage]
    data_file.write_bytes(damaged)
    with pytest.raises(ValueError) as info:
        LmdbDataset(tmp_path / "db")
    assert str(tmp_path / "db") in str(info.value) and "\n" not in str(info.value)


# ---- charset files ----------------------------------------------------------------------------------------------
def charset_or_error(path: Path) -> Charset | None:
    try:
        return Charset.from_file(path)
    except ValueError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), str(exc)
        return None


@FUZZ
@given(st.binary(max_size=200))
def test_charset_file_of_random_bytes_loads_or_is_a_one_line_error_naming_it(workdir, raw):
    path = fresh_dir(workdir) / "chars.txt"
    path.write_bytes(raw)
    charset_or_error(path)


@FUZZ
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=3), max_size=20))
def test_charset_file_lists_its_distinct_symbols_or_names_the_problem(workdir, lines):
    import unicodedata

    path = fresh_dir(workdir) / "chars.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    charset = charset_or_error(path)
    # Read as text: utf-8-sig drops one leading byte-order mark, universal newlines make every CR a line break.
    text = "\n".join(lines).removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    symbols = [unicodedata.normalize("NFC", s) for s in text.split("\n") if s]
    valid = symbols and all(len(s) == 1 for s in symbols) and len(set(symbols)) == len(symbols)
    assert (charset is not None) == bool(valid)
    if charset is not None:
        assert list(charset.symbols) == symbols
