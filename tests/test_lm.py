"""The language-model branch: shapes, bidirectional attention, the detach switch, presets and its loss."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.charset import PAD_ID
from sgtr.models.language import LM_PRESETS, LanguageModel, LMConfig
from sgtr.models.losses import sequence_loss

K, T = 37, 26


def test_shapes_and_hidden_width():
    lm = LanguageModel(K, T, LMConfig(width=32, layers=1, heads=2, ffn=64))
    logits, hidden = lm(torch.randn(3, T, K))
    assert logits.shape == (3, T, K) and hidden.shape == (3, T, 32)


def test_attention_is_bidirectional():
    lm = LanguageModel(K, T, LMConfig(width=32, layers=1, heads=2, ffn=64, dropout=0.0)).eval()
    x = torch.randn(1, T, K)
    changed = x.clone()
    changed[0, 10] = torch.randn(K)
    before, after = lm(x)[0], lm(changed)[0]
    assert not torch.allclose(before[0, 3], after[0, 3])  # an early step sees a later one
    assert not torch.allclose(before[0, 20], after[0, 20])


@pytest.mark.parametrize("detach", [False, True])
def test_detach_switch_stops_gradients_into_the_input(detach):
    lm = LanguageModel(K, T, LMConfig(width=32, layers=1, heads=2, ffn=64, detach=detach))
    x = torch.randn(2, T, K, requires_grad=True)
    lm(x)[0].sum().backward()
    assert (x.grad is None) == detach
    assert lm.embed.weight.grad is not None  # the LM itself still learns


def test_base_preset_has_the_paper_widths():
    lm = LanguageModel(K, T, LM_PRESETS["base"])
    assert lm.config.width == 512 and len(lm.encoder.layers) == 4
    assert lm.encoder.layers[0].self_attn.num_heads == 8 and lm.encoder.layers[0].linear1.out_features == 1024


def test_loss_covers_characters_and_eos_and_ignores_padding():
    logits = torch.randn(2, 4, K)
    ids = torch.tensor([[5, 6, 0, PAD_ID], [7, 0, PAD_ID, PAD_ID]])
    valid = ids != PAD_ID
    expected = torch.nn.functional.cross_entropy(logits[valid], ids[valid])
    torch.testing.assert_close(sequence_loss(logits, ids), expected)
    scrambled = logits.clone()
    scrambled[~valid] = torch.randn(int((~valid).sum()), K)
    torch.testing.assert_close(sequence_loss(scrambled, ids), expected)
