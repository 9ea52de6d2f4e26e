"""Greedy and CTC decoding of hand-made logits: text, PARSeq-style confidence, per-character probabilities,
whitelists."""

from __future__ import annotations

import math

import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.models.decoding import allowed_classes, ctc_emitting, decode
from sgtr.models.output import RecognizerOutput

CHARSET = Charset.from_spec("36")  # ids: 1..10 = '0'..'9', 11..36 = 'a'..'z'
K = CHARSET.num_classes


def probs_to_logits(rows: list[dict[int, float]]) -> torch.Tensor:
    """One step per dict {class: probability}; the rest of the mass is spread evenly over the other classes."""
    out = torch.empty(len(rows), K)
    for t, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (K - len(row))
        out[t] = rest
        for k, p in row.items():
            out[t, k] = p
    return out.log()


def cid(symbol: str) -> int:
    return CHARSET.encode(symbol)[0]


def test_eos_at_the_first_step_reads_as_empty_with_its_own_confidence():
    (pred,) = decode(probs_to_logits([{0: 0.9}, {cid("a"): 0.8}])[None], CHARSET)
    assert pred.text == "" and pred.char_probs == []
    assert pred.confidence == pytest.approx(0.9)


def test_greedy_stops_at_the_first_eos_and_multiplies_kept_steps():
    rows = [{cid("c"): 0.9}, {cid("a"): 0.6}, {cid("t"): 0.8}, {0: 0.7}, {cid("s"): 0.99}, {0: 0.5}]
    (pred,) = decode(probs_to_logits(rows)[None], CHARSET)
    assert pred.text == "cat"
    assert pred.confidence == pytest.approx(0.9 * 0.6 * 0.8 * 0.7)
    assert pred.char_probs == pytest.approx([0.9, 0.6, 0.8])


def test_without_eos_all_steps_count():
    rows = [{cid("o"): 0.5}, {cid("k"): 0.5}]
    (pred,) = decode(probs_to_logits(rows)[None], CHARSET)
    assert pred.text == "ok" and pred.confidence == pytest.approx(0.25)


def test_batch_rows_are_independent_and_output_wrapper_works():
    a = probs_to_logits([{cid("h"): 0.9}, {cid("i"): 0.9}, {0: 0.9}])
    b = probs_to_logits([{0: 0.6}, {cid("x"): 0.9}, {0: 0.9}])
    preds = decode(RecognizerOutput(logits=torch.stack([a, b])), CHARSET)
    assert [p.text for p in preds] == ["hi", ""]
    assert preds[0].confidence == pytest.approx(0.9 ** 3) and preds[1].confidence == pytest.approx(0.6)


def test_log_probabilities_and_raw_logits_decode_alike():
    logits = torch.randn(3, 7, K)
    assert [p.text for p in decode(logits, CHARSET)] == [p.text for p in decode(logits.log_softmax(-1), CHARSET)]


def test_ctc_emitting_marks_the_first_frame_of_each_run_of_a_character():
    ids = torch.tensor([[3, 3, 0, 3, 4, 4, 0], [0, 0, 5, 0, 5, 5, 5]])
    assert ctc_emitting(ids).int().tolist() == [[1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 0, 0]]


def test_ctc_collapses_repeats_and_drops_blanks():
    b, o, k = cid("b"), cid("o"), cid("k")
    rows = [{b: 0.9}, {b: 0.8}, {0: 0.7}, {o: 0.9}, {0: 0.9}, {o: 0.6}, {o: 0.9}, {k: 0.5}, {0: 0.9}]
    out = RecognizerOutput(logits=probs_to_logits(rows)[None], ctc=True)
    (pred,) = decode(out, CHARSET)
    assert pred.text == "book"
    assert pred.char_probs == pytest.approx([0.9, 0.9, 0.6, 0.5])  # the first frame of each emitted character
    assert pred.confidence == pytest.approx(math.prod([0.9, 0.8, 0.7, 0.9, 0.9, 0.6, 0.9, 0.5, 0.9]))


def test_whitelist_masks_other_classes_and_renormalises():
    rows = [{cid("o"): 0.5, cid("0"): 0.4}, {0: 0.9}]
    logits = probs_to_logits(rows)[None]
    assert decode(logits, CHARSET)[0].text == "o"
    (pred,) = decode(logits, CHARSET, whitelist="0123456789")
    assert pred.text == "0"
    rest = 0.1 / (K - 2)
    assert pred.char_probs == pytest.approx([0.4 / (0.4 + rest * 9 + rest)])  # digits 0-9 plus EOS remain


def test_whitelist_is_normalised_like_labels_and_must_overlap():
    allowed = allowed_classes(CHARSET, "AB!", K)
    assert allowed.nonzero().flatten().tolist() == [0, cid("a"), cid("b")]
    with pytest.raises(ValueError, match="shares no symbol"):
        allowed_classes(CHARSET, "!?", K)
