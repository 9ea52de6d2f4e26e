"""Cleaning rules of the 36, 62, 94 and raw protocols."""

from __future__ import annotations

import unicodedata

import pytest

from sgtr.evaluation.protocols import PROTOCOLS, get_protocol

NFD_CAFE = unicodedata.normalize("NFD", "Café")


def clean(protocol: str, text: str) -> str:
    return get_protocol(protocol).clean(text)


def test_36_lowercases_and_keeps_only_letters_and_digits():
    assert clean("36", "Hello, World! 42") == "helloworld42"


def test_36_folds_accented_letters_to_their_base_letter():
    assert clean("36", "Café") == clean("36", NFD_CAFE) == "cafe"
    assert clean("36", "brüno's") == "brunos"


def test_ascii_protocols_drop_letters_without_an_ascii_form():
    assert clean("36", "straße日本") == "strae"


def test_ascii_protocols_unfold_compatibility_characters():
    assert clean("62", "ﬁＡ²") == "fiA2"


def test_62_keeps_case_and_drops_punctuation():
    assert clean("62", "Hello, World!") == "HelloWorld"


def test_94_keeps_case_and_punctuation_but_drops_spaces():
    assert clean("94", "New York: $5.99") == "NewYork:$5.99"


def test_raw_only_normalises_to_nfc():
    assert clean("raw", NFD_CAFE) == "Café"
    assert clean("raw", " Hé llo! ") == " Hé llo! "


@pytest.mark.parametrize(("name", "text"), [("36", "!?"), ("62", "!?"), ("94", "日本 ")])
def test_label_without_kept_characters_is_empty_after_cleaning(name, text):
    assert clean(name, text) == ""


def test_every_protocol_has_a_description_and_its_own_name():
    assert list(PROTOCOLS) == ["36", "62", "94", "raw"]
    assert all(p.name == key and p.description for key, p in PROTOCOLS.items())


def test_unknown_protocol_is_a_value_error_naming_the_choices():
    with pytest.raises(ValueError, match="36, 62, 94, raw"):
        get_protocol("37")
