"""TRBA host: the output contract, TPS starting as the identity and learning, greedy and beam-search decoding, and
option checking. What every host shares (gradients, memorising, weights files, ONNX, configs) is tested in
``test_hosts``."""

from __future__ import annotations

import pytest
import torch

from sgtr.models.decoding import decode
from sgtr.models.hosts.trba import TRBA
from tests.helpers.hosts import CHARSET, check_contract, narrow_host, words_batch


def test_output_honours_the_host_contract():
    _, images, targets = words_batch(3)
    model = narrow_host("trba")
    out = model(images, targets)
    check_contract(model, out, 3, branches=set(), losses={"ce"})
    assert out.features.shape[-2:] == (8, 32) and model.language_branch is None
    # The decoder attends over columns: every row of a step's map holds the same weights.
    assert torch.equal(out.order_maps, out.order_maps[:, :, :1].expand_as(out.order_maps))
    assert out.extras["rectified"].shape == images.shape


def test_tps_starts_as_the_identity():
    _, images, _ = words_batch(3)
    rectified = narrow_host("trba").eval()(images).extras["rectified"]
    torch.testing.assert_close(rectified, images, atol=1e-2, rtol=0)


def test_loss_reaches_the_tps():
    _, images, targets = words_batch(3)
    model = narrow_host("trba")
    model(images, targets).loss.backward()
    assert model.tps.head[-1].weight.grad.abs().sum() > 0


def test_beam_width_one_is_greedy():
    _, images, _ = words_batch(3)
    model = narrow_host("trba").eval()
    with torch.no_grad():
        memory = model.sequence(model.backbone(model.tps(images)).mean(dim=2).transpose(1, 2))
        greedy = model.decoder(memory)
        beam = model.decoder.beam_search(memory, 1)
    # A finished beam keeps emitting EOS while greedy decoding runs on, so they agree up to each sample's first EOS.
    ids = greedy[0].argmax(dim=-1)
    eos = torch.where((ids == 0).any(dim=1), (ids == 0).int().argmax(dim=1), ids.shape[1] - 1)
    upto = torch.arange(ids.shape[1]) <= eos[:, None]
    torch.testing.assert_close(beam[0][upto], greedy[0].log_softmax(dim=-1)[upto])
    for got, want in zip(beam[1:3], greedy[1:3]):
        torch.testing.assert_close(got[upto], want[upto])
    assert [p.text for p in decode(beam[0], CHARSET)] == [p.text for p in decode(greedy[0], CHARSET)]


def test_wider_beam_reads_valid_text_with_its_path_score():
    _, images, _ = words_batch(3)
    model = narrow_host("trba", beam_width=4).eval()
    with torch.no_grad():
        out = model(images)
    predictions = decode(out, CHARSET)
    assert all(set(p.text) <= set(CHARSET.symbols) and len(p.text) <= CHARSET.max_steps for p in predictions)
    # The logits keep the path tokens' log-probabilities, and those sum to the beam's score up to its EOS.
    ids = out.logits.argmax(dim=-1)
    eos = torch.where((ids == 0).any(dim=1), (ids == 0).int().argmax(dim=1), ids.shape[1] - 1)
    upto = torch.arange(ids.shape[1]) <= eos[:, None]
    path = out.logits.gather(-1, ids[..., None]).squeeze(-1)
    torch.testing.assert_close((path * upto).sum(dim=1), out.extras["beam_score"])
    assert out.order_maps.shape == (3, CHARSET.max_steps, 8, 32)


def test_unknown_options_and_presets_are_refused():
    with pytest.raises(ValueError, match="unknown TRBA option.*beam_width"):
        TRBA.from_preset(CHARSET, beam=3)
    with pytest.raises(ValueError, match="unknown TRBA preset 'huge'"):
        TRBA.from_preset(CHARSET, "huge")
    with pytest.raises(ValueError, match="even number"):
        narrow_host("trba", fiducials=5)
    with pytest.raises(ValueError, match="beam_width must be between 1 and"):
        narrow_host("trba", beam_width=0)
