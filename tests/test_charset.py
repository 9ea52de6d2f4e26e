import pytest

from sgtr.data.charset import EOS_ID, PAD_ID, UNK_SYMBOL, Charset, LabelError


def test_presets_have_expected_sizes():
    assert [len(Charset.from_spec(p)) for p in ("36", "62", "94")] == [36, 62, 94]


def test_encode_decode_round_trip_with_eos_and_padding():
    cs = Charset.from_spec("62", max_length=8)
    targets = cs.encode_batch(["Hello", "a1"])
    assert targets.shape == (2, 9)
    assert targets[0, 5] == EOS_ID and (targets[0, 6:] == PAD_ID).all()
    assert [cs.decode(row) for row in targets] == ["Hello", "a1"]


def test_preset_36_folds_case_instead_of_dropping():
    cs = Charset.from_spec("36")
    assert cs.decode(cs.encode("HeLLo")) == "hello"


def test_drop_policy_rejects_unknown_characters_naming_them():
    cs = Charset.from_spec("36")
    with pytest.raises(LabelError, match="outside the charset: !"):
        cs.encode("hi!")


def test_unk_policy_maps_unknown_characters_to_unk_token():
    cs = Charset.from_spec("36", unknown="unk")
    ids = cs.encode("a!b")
    assert ids[1] == cs.unk_id == 37 and cs.num_classes == 38
    assert cs.decode(ids) == f"a{UNK_SYMBOL}b"


def test_too_long_labels_are_rejected():
    with pytest.raises(LabelError, match="longer than 3"):
        Charset.from_spec("36", max_length=3).encode("abcd")


def test_nfc_normalisation_makes_decomposed_accents_match(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_text("c\na\nf\n\u00e9\n", encoding="utf-8")
    cs = Charset.from_file(f)
    assert cs.encode("cafe\u0301") == cs.encode("caf\u00e9")


def test_custom_file_keeps_space_and_any_unicode(tmp_path):
    f = tmp_path / "cs.txt"
    f.write_text("a\n \n\u4e2d\n\u0416\n", encoding="utf-8")
    cs = Charset.from_file(f)
    assert cs.symbols == ("a", " ", "\u4e2d", "\u0416")
    assert cs.decode(cs.encode("a \u4e2d\u0416")) == "a \u4e2d\u0416"


def test_custom_file_with_two_symbols_on_a_line_names_the_line(tmp_path):
    f = tmp_path / "cs.txt"
    f.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cs.txt:2"):
        Charset.from_file(f)


def test_decode_stops_at_first_eos_and_ignores_padding():
    cs = Charset.from_spec("36")
    assert cs.decode([11, 12, EOS_ID, 13]) == "ab"
    assert cs.decode([11, PAD_ID, 12]) == "ab"


def test_config_round_trip_gives_equal_charset():
    cs = Charset.from_spec("94", max_length=30, unknown="unk")
    assert Charset.from_config(cs.to_config()) == cs
