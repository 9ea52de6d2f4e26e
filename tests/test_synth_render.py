"""The synthetic renderer: masks, boxes, determinism, text and font choice, and robustness to bad inputs."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sgtr.data.charset import PRESETS, Charset
from sgtr.data.sample import Sample
from sgtr.synth.config import Effects, SynthConfig
from sgtr.synth.dataset import SynthDataset
from sgtr.synth.fonts import COLLECTION_CAP, FontLibrary, GlyphCache, coverage, draw_weights
from sgtr.synth.render import SynthError, SynthGenerator
from sgtr.synth.text import TextError, TextSource, parse_mix

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FACES = ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Oblique.ttf")
SAMPLES = 300
# A pixel is ink when the clean rendering covers at least an eighth of it.
INK = 32


def dejavu_faces() -> tuple[str, ...]:
    if not all((DEJAVU / f).is_file() for f in FACES):
        pytest.skip("DejaVu fonts (fonts-dejavu-core) are not installed")
    return tuple(str(DEJAVU / f) for f in FACES)


def make_config(**kwargs) -> SynthConfig:
    kwargs.setdefault("charset", Charset(tuple(PRESETS["94"] + " ")))
    kwargs.setdefault("seed", 7)
    return SynthConfig(font_dirs=dejavu_faces(), **kwargs)


@pytest.fixture(scope="module")
def generator() -> SynthGenerator:
    return SynthGenerator.build(make_config())


@pytest.fixture(scope="module")
def rendered(generator) -> list:
    return [generator.render(i) for i in range(SAMPLES)]


@pytest.fixture(scope="module")
def straight() -> SynthGenerator:
    return SynthGenerator.build(make_config().with_effects(Effects.plain()))


# ---- masks and boxes ------------------------------------------------------------------------------------------------
def test_mask_has_one_instance_per_non_space_character(rendered):
    for r in rendered:
        assert set(np.unique(r.mask)) == set(range(len(r.label.replace(" ", "")) + 1)), r.label


def test_some_labels_contain_spaces(rendered):
    assert any(" " in r.label for r in rendered)


def test_every_instance_is_non_empty(rendered):
    for r in rendered:
        counts = np.bincount(r.mask.ravel(), minlength=len(r.boxes) + 1)[1:]
        assert counts.min() > 0, r.label


def test_boxes_are_tight_around_each_instance(rendered):
    for r in rendered:
        assert r.boxes.dtype == np.dtype("<i2") and r.boxes.shape == (len(r.label.replace(" ", "")), 4)
        for t, (x0, y0, x1, y1) in enumerate(r.boxes.tolist(), start=1):
            ys, xs = np.nonzero(r.mask == t)
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_straight_text_instances_run_left_to_right(straight):
    for i in range(SAMPLES):
        r = straight.render(i)
        centroids = [np.nonzero(r.mask == t)[1].mean() for t in range(1, len(r.boxes) + 1)]
        assert np.all(np.diff(centroids) > 0), r.label


def test_mask_pixels_lie_on_the_clean_rendering_ink(generator, rendered):
    for i, r in enumerate(rendered):
        ink = generator.render(i, clean=True).image[..., 0] >= INK
        for t in range(1, len(r.boxes) + 1):
            assert ink[r.mask == t].mean() >= 0.9, (r.label, t)


def test_clean_rendering_has_the_same_label_and_mask(generator, rendered):
    for i, r in enumerate(rendered[:50]):
        clean = generator.render(i, clean=True)
        assert clean.label == r.label and np.array_equal(clean.mask, r.mask)


def test_occlusion_leaves_the_mask_whole():
    occluding = SynthGenerator.build(make_config().with_effects(Effects(p_occlusion=1.0)))
    for i in range(50):
        r = occluding.render(i)
        assert np.array_equal(r.mask, occluding.render(i, clean=True).mask)
    assert occluding.stats["occluded"] > 25


# ---- determinism ----------------------------------------------------------------------------------------------------
def test_same_seed_and_index_give_identical_samples(rendered):
    again = SynthGenerator.build(make_config())
    for i in (0, 17, 123):
        r = again.render(i)
        assert (r.label, r.image.tobytes(), r.mask.tobytes(), r.boxes.tobytes()) == \
               (rendered[i].label, rendered[i].image.tobytes(), rendered[i].mask.tobytes(), rendered[i].boxes.tobytes())


def test_sample_does_not_depend_on_render_order(generator, rendered):
    assert generator.render(200).image.tobytes() == rendered[200].image.tobytes()


def test_other_seed_gives_other_samples(rendered):
    other = SynthGenerator.build(make_config(seed=8))
    assert [other.render(i).label for i in range(20)] != [r.label for r in rendered[:20]]


# ---- text -----------------------------------------------------------------------------------------------------------
def test_labels_are_encodable_by_the_charset():
    charset = Charset.from_spec("36")
    gen = SynthGenerator.build(make_config(charset=charset))
    for i in range(100):
        label = gen.render(i).label
        assert charset.encode(label) and len(label) <= charset.max_length


def test_random_strings_use_only_charset_symbols():
    texts = TextSource(Charset.from_spec("62"), [], {"random": 1.0})
    rng = np.random.default_rng(0)
    drawn = "".join(texts.sample(rng) for _ in range(300))
    assert set(drawn) <= set(string.digits + string.ascii_letters)


def test_text_mix_rejects_unknown_kind():
    with pytest.raises(TextError, match="KIND=WEIGHT"):
        parse_mix("words=1")


def test_empty_word_list_is_a_one_line_error(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("\n\n")
    with pytest.raises(TextError, match="empty") as info:
        TextSource.build(Charset.from_spec("36"), words_file=words)
    assert "\n" not in str(info.value)


def test_word_list_without_encodable_words_is_an_error(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("héllo\nça\n")
    with pytest.raises(TextError, match="none of its 2 words"):
        TextSource.build(Charset.from_spec("36"), words_file=words)


# ---- fonts ----------------------------------------------------------------------------------------------------------
def test_coverage_rejects_a_character_the_face_lacks():
    face = dejavu_faces()[0]
    assert coverage(face, "A\ue000 ").tolist() == [True, False, True]


def test_all_caps_face_has_no_lower_case_letters():
    bebas = Path("/usr/share/fonts/opentype/bebas-neue/BebasNeue-Regular.otf")
    if not bebas.is_file():
        pytest.skip("fonts-bebas-neue is not installed")
    assert coverage(str(bebas), "aA").tolist() == [False, True]


def test_face_lacking_a_glyph_is_never_used_for_words_with_it():
    # DejaVu Sans draws the trigram U+2630; DejaVu Serif and Sans Mono do not.
    charset = Charset(tuple("ab\u2630"))
    gen = SynthGenerator.build(make_config(charset=charset, text_mix={"random": 1.0}))
    samples = [gen.render(i) for i in range(60)]
    faces_used = {Path(r.face).name for r in samples if "\u2630" in r.label}
    assert faces_used == {"DejaVuSans.ttf"}


def test_font_failing_to_render_is_counted_and_replaced(monkeypatch):
    gen = SynthGenerator.build(make_config())
    broken = gen.fonts.paths.index(dejavu_faces()[0])
    real_glyph = GlyphCache.glyph

    def glyph(self, face, size, ch, stroke=0):
        if face == broken:
            raise OSError("invalid glyph")
        return real_glyph(self, face, size, ch, stroke)

    monkeypatch.setattr(GlyphCache, "glyph", glyph)
    faces = {gen.render(i).face for i in range(30)}
    assert dejavu_faces()[0] not in faces
    assert gen.stats["texts redrawn: font failed to render"] > 0
    assert {s.key for s in gen.skips} == {dejavu_faces()[0]}


def test_unreadable_font_is_a_counted_skip(tmp_path):
    (tmp_path / "broken.ttf").write_bytes(b"not a font")
    library = FontLibrary.scan([tmp_path, dejavu_faces()[0]], "abc")
    assert len(library) == 1
    assert [s.reason.split(" (")[0] for s in library.skips] == ["unreadable font"]


def test_no_usable_font_is_a_one_line_error(tmp_path):
    (tmp_path / "broken.ttf").write_bytes(b"not a font")
    with pytest.raises(SynthError, match="no usable font") as info:
        SynthGenerator.build(SynthConfig(Charset.from_spec("36"), font_dirs=(str(tmp_path),)))
    assert "\n" not in str(info.value)


# ---- backgrounds ----------------------------------------------------------------------------------------------------
def test_natural_backgrounds_are_cropped_from_user_images(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    gen = SynthGenerator.build(make_config(background_dirs=(str(tmp_path),),
                                           effects=Effects(p_natural_background=1.0)))
    for i in range(10):
        assert gen.render(i).image.shape == (32, 128, 3)
    assert not gen.skips


def test_unreadable_background_is_counted_and_replaced(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    gen = SynthGenerator.build(make_config(background_dirs=(str(tmp_path),),
                                           effects=Effects(p_natural_background=1.0)))
    images = [gen.render(i).image for i in range(5)]
    assert all(img.shape == (32, 128, 3) for img in images)
    assert gen.stats["backgrounds replaced: unreadable image"] == 5
    assert {s.key for s in gen.skips} == {str(tmp_path / "broken.jpg")}


# ---- dataset --------------------------------------------------------------------------------------------------------
def test_dataset_yields_samples_with_masks(generator, rendered):
    sample = SynthDataset(generator, 4)[3]
    assert isinstance(sample, Sample) and sample.image.size == (128, 32)
    assert sample.label == rendered[3].label and np.array_equal(sample.mask, rendered[3].mask)


def test_dataset_index_past_the_end_raises_index_error(generator):
    with pytest.raises(IndexError):
        SynthDataset(generator, 4)[4]


def test_no_font_collection_outweighs_its_cap_of_families():
    big = [f"/fonts/display/f{i}.ttf" for i in range(100)]  # one package of 100 one-face families
    small = ["/fonts/serif/a.ttf", "/fonts/serif/b.ttf", "/fonts/sans/c.ttf"]  # a 2-face family and a 1-face one
    weights = draw_weights(big + small, [f"D{i}" for i in range(100)] + ["Serif", "Serif", "Sans"])
    share = weights / weights.sum()
    assert share[:100].sum() == pytest.approx(COLLECTION_CAP / (COLLECTION_CAP + 2))
    assert share[100] == pytest.approx(share[101]) and share[100] + share[101] == pytest.approx(share[102])
