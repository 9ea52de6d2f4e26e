"""The ``mixture`` fusion: a per-step mixture of the two branches' distributions whose GTR share starts at 0, so the
fused model starts at the host's (or LM's) reading and its probability for every class stays between the branches'."""

from __future__ import annotations

import torch

from sgtr.data.charset import Charset
from sgtr.models.factory import build_model
from sgtr.models.fusion import MixtureFusion
from sgtr.models.output import Targets

CHARSET = Charset.from_spec("36", max_length=8)
CRNN = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}


def branches(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(4, 6, 11, generator=g) * 3, torch.randn(4, 6, 16, generator=g),
            torch.randn(4, 6, 11, generator=g) * 3, torch.randn(4, 6, 24, generator=g))


def test_mixture_starts_at_the_lm_distribution():
    lm, lm_hidden, gtr, gtr_hidden = branches()
    fused, gate = MixtureFusion(16, 24)(lm, lm_hidden, gtr, gtr_hidden)
    torch.testing.assert_close(fused, lm.log_softmax(dim=-1))
    assert torch.equal(gate, torch.ones(4, 6))


def test_mixture_probabilities_lie_between_the_branches():
    torch.manual_seed(0)
    fusion = MixtureFusion(16, 24)
    with torch.no_grad():
        fusion.scale.fill_(0.7)
    lm, lm_hidden, gtr, gtr_hidden = branches(1)
    fused, gate = fusion(lm, lm_hidden, gtr, gtr_hidden)
    p, p_lm, p_gtr = fused.exp(), lm.softmax(-1), gtr.softmax(-1)
    assert (p >= torch.minimum(p_lm, p_gtr) - 1e-6).all() and (p <= torch.maximum(p_lm, p_gtr) + 1e-6).all()
    torch.testing.assert_close(p.sum(dim=-1), torch.ones(4, 6))
    assert (gate >= 0.3 - 1e-6).all() and (gate < 1).all()


def test_mixture_learns_its_gtr_share_from_the_first_step():
    fusion = MixtureFusion(16, 24)
    lm, lm_hidden, gtr, gtr_hidden = branches(2)
    target = gtr.argmax(dim=-1)  # where GTR is right and the LM is not, the share must grow
    fused, _ = fusion(lm, lm_hidden, gtr, gtr_hidden)
    torch.nn.functional.nll_loss(fused.flatten(0, 1), target.flatten()).backward()
    assert fusion.scale.grad is not None and fusion.scale.grad < 0


def test_plugged_ctc_host_with_the_mixture_reads_what_its_host_reads_at_the_start():
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"fusion": "mixture", "ctc_fusion": "reading",
                                                          "order_source": "ctc"}, **CRNN)
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    out = model(images, Targets(CHARSET.encode_batch(["ab", "cde", "f"])))
    assert torch.equal(out.logits.argmax(-1), out.branches["ctc"].argmax(-1))
    out.losses["fused"].backward()
    assert model.fusion.scale.grad is not None
