"""The GTR plug-in on its own terms: CTC frames pooled into steps, the CTC reading laid out step-wise, a host's order
maps reused, coarse features enlarged, the fusion's inputs, mutual learning's partner, loss weights and option errors.
A stub host stands in for an attention recognizer; CRNN is the CTC host."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgtr.data.charset import Charset
from sgtr.models.decoding import decode
from sgtr.models.factory import build_model
from sgtr.models.hosts.crnn import CRNN
from sgtr.models.losses import mutual_kl
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.plugin import GTRPlugin, ctc_slots, ctc_steps, interval_overlaps, plugin_config
from tests.helpers.render import render_batch

CHARSET = Charset.from_spec("36")
K, T = CHARSET.num_classes, CHARSET.max_steps
TINY_CRNN = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}


class StubHost(nn.Module):
    """An attention-style host: a 1-conv feature map of ``grid`` size, per-step order maps over it (uniform over one
    column band per step) when ``order_maps``, and a ``vision`` and an ``lm`` branch."""

    feature_channels, hidden_width, language_branch = 8, 12, "lm"

    def __init__(self, grid: tuple[int, int] = (8, 32), order_maps: bool = True):
        super().__init__()
        self.grid, self.has_order_maps = grid, order_maps
        self.conv = nn.Conv2d(3, self.feature_channels, 3, padding=1)
        self.hidden = nn.Linear(self.feature_channels, T * self.hidden_width)
        self.vision = nn.Linear(self.hidden_width, K)
        self.lm = nn.Linear(K, K)

    def forward(self, images: torch.Tensor, targets: Targets | None = None) -> RecognizerOutput:
        features = nn.functional.adaptive_avg_pool2d(self.conv(images), self.grid)
        hidden = self.hidden(features.mean(dim=(2, 3))).view(len(images), T, self.hidden_width)
        vision = self.vision(hidden)
        out = RecognizerOutput(logits=vision, branches={"vision": vision, "lm": self.lm(vision.softmax(-1))},
                               features=features, extras={"step_hidden": hidden})
        if self.has_order_maps:
            out.order_maps = band_maps(len(images), *self.grid)
        if targets is not None:
            out.losses = {"vision": vision.square().mean()}
            out.loss = out.losses["vision"]
        return out


def band_maps(batch: int, height: int, width: int) -> torch.Tensor:
    """(B, T, H, W): step t uniform over the columns t·W/T rounded down (one column band per step)."""
    column = (torch.arange(T) * width // T)[:, None] == torch.arange(width)
    maps = column[:, None, :].expand(T, height, width).float()
    return (maps / maps.sum(dim=(1, 2), keepdim=True)).expand(batch, -1, -1, -1)


@pytest.fixture(scope="module")
def batch():
    return render_batch(["hello", "a1b2", "xyz"], CHARSET)


def plugged(host: nn.Module, **options) -> GTRPlugin:
    return GTRPlugin(host, CHARSET, plugin_config("small", **{"seg_channels": 8, "order_channels": 8, **options}))


def test_ctc_slots_pool_frames_with_the_order_maps_column_marginals():
    # 4 frames reading blank, "a", "b", blank; order maps of 8 columns (2 per frame) over 2 rows.
    a, b = CHARSET.encode("ab")
    frames = torch.full((1, 4, K), -30.0)
    for f, cls in enumerate((0, a, b, 0)):
        frames[0, f, cls] = 30.0
    maps = torch.zeros(1, T, 2, 8)
    maps[0, 0, :, 2:4] = 1 / 4  # step 0 covers frame 1 ("a")
    maps[0, 1, 0, 4] = maps[0, 1, 1, 5] = 1 / 2  # step 1 covers frame 2 ("b"), across both rows
    maps[0, 2:, :, 6:] = 1 / 4  # the rest look at the trailing blank: EOS
    maps[0, 3, :, :] = 0
    maps[0, 3, 0, [2, 4]] = 1 / 2  # step 3 splits evenly between "a" and "b"
    probs = ctc_slots(frames, maps).exp()
    expected = torch.zeros(T, K)
    expected[0, a] = expected[1, b] = 1
    expected[2:, 0] = 1
    expected[3] = 0
    expected[3, a] = expected[3, b] = 0.5
    torch.testing.assert_close(probs[0], expected, atol=1e-5, rtol=0)


def test_interval_overlaps_keep_the_mass_for_any_ratio():
    for cells, frames in ((8, 4), (4, 8), (32, 25), (7, 7)):
        overlaps = interval_overlaps(cells, frames)
        torch.testing.assert_close(overlaps.sum(dim=1), torch.ones(cells))
    torch.testing.assert_close(interval_overlaps(2, 4), torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]))
    torch.testing.assert_close(interval_overlaps(4, 2), torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]]))


def test_ctc_steps_read_what_the_ctc_decoder_reads():
    torch.manual_seed(3)
    frames = torch.randn(16, 32, K) * 3
    frames[:, :, 0] += 6  # mostly blanks, as trained CTC heads emit, and fewer than T characters
    frames[0, :, 0] = 50  # one reading nothing at all
    frames[1, :, 5] = 50  # one a single repeated character: "4"
    ctc = decode(frames, CHARSET, ctc=True)
    steps = decode(ctc_steps(frames, T), CHARSET, ctc=False)
    assert [p.text for p in steps] == [p.text for p in ctc]
    assert ctc[0].text == "" and ctc[1].text == "4" and len({p.text for p in ctc}) > 10
    for s, c in zip(steps, ctc):  # each character keeps the probability of the frame that emitted it
        assert s.char_probs == pytest.approx(c.char_probs, abs=1e-6)


def test_ctc_steps_drop_characters_beyond_the_steps():
    frames = torch.full((1, 8, K), -10.0)
    frames[0, torch.arange(8), torch.arange(8) % 2 + 1] = 10  # "01010101": 8 characters
    assert decode(ctc_steps(frames, 4), CHARSET)[0].text == "0101"


def test_host_order_maps_are_reused_when_present(batch):
    images, _ = batch
    model = plugged(StubHost()).eval()
    assert model.order is None
    out = model(images)
    torch.testing.assert_close(out.order_maps, band_maps(3, 8, 32))


def test_host_order_maps_are_resampled_to_the_plugin_grid(batch):
    images, _ = batch
    out = plugged(StubHost(grid=(4, 16))).eval()(images)
    assert out.features.shape[-2:] == out.seg_logits.shape[-2:] == out.order_maps.shape[-2:] == (8, 32)
    torch.testing.assert_close(out.order_maps.sum(dim=(2, 3)), torch.ones(3, T))
    assert (out.order_maps >= 0).all()


def test_hosts_without_order_maps_get_learned_ones(batch):
    images, _ = batch
    model = plugged(StubHost(order_maps=False)).eval()
    assert model.order is not None
    out = model(images)
    torch.testing.assert_close(out.order_maps.sum(dim=(2, 3)), torch.ones(3, T))


def test_coarse_features_are_upsampled_to_at_least_8_by_32(batch):
    images, _ = batch
    out = plugged(StubHost(grid=(2, 48), order_maps=False)).eval()(images)
    assert out.features.shape[-2:] == out.seg_logits.shape[-2:] == (8, 48)


def test_gated_fusion_reads_the_host_hidden_state_or_its_projected_probabilities():
    assert plugged(StubHost()).host_state is None
    projected = plugged(CRNN.from_preset(CHARSET, **TINY_CRNN))
    assert projected.host_state.in_features == K and projected.host_state.out_features == projected.gtr.width
    assert plugged(CRNN.from_preset(CHARSET, **TINY_CRNN), fusion="average").host_state is None


def test_plugged_ctc_host_output(batch):
    images, targets = batch
    out = plugged(CRNN.from_preset(CHARSET, **TINY_CRNN))(images, targets)
    assert not out.ctc and out.logits is out.branches["fused"]
    assert set(out.branches) == {"host", "ctc", "gtr", "fused"}
    assert all(v.shape == (3, T, K) for v in out.branches.values())
    assert set(out.losses) == {"ctc", "gtr", "fused", "seg_seq", "seg", "order", "slots", "mutual"}
    assert set(out.extras) == {"gtr_nodes", "gtr_roots", "gtr_edges", "gtr_valid", "fusion_gate", "host_frames"}
    assert out.extras["host_frames"].shape == (3, 32, K)  # the CTC frames themselves


def test_plugged_attention_host_keeps_its_branches(batch):
    images, targets = batch
    out = plugged(StubHost())(images, targets)
    assert set(out.branches) == {"vision", "lm", "host", "gtr", "fused"}
    assert out.branches["host"] is out.branches["vision"]
    assert set(out.losses) == {"vision", "gtr", "fused", "seg_seq", "seg", "mutual"}  # no order loss: host maps


def test_mutual_learning_pairs_gtr_with_the_host_language_branch(batch):
    images, targets = batch
    out = plugged(StubHost())(images, targets)
    torch.testing.assert_close(out.losses["mutual"], mutual_kl(out.branches["lm"], out.branches["gtr"], targets.ids))
    crnn = plugged(CRNN.from_preset(CHARSET, **TINY_CRNN))(images, targets)
    torch.testing.assert_close(crnn.losses["mutual"],
                               mutual_kl(crnn.branches["host"], crnn.branches["gtr"], targets.ids))


def test_total_loss_uses_the_configured_weights(batch):
    images, targets = batch
    weights = {"host": 0.3, "gtr": 2.0, "fused": 0.7, "slots": 0.2, "mutual": 1.5, "seg_seq": 0.1, "seg": 0.4,
               "order": 0.6}
    out = plugged(CRNN.from_preset(CHARSET, **TINY_CRNN), weights=weights)(images, targets)
    expected = sum(w * out.losses["ctc" if name == "host" else name] for name, w in weights.items())
    torch.testing.assert_close(out.loss, expected)


def test_only_masked_samples_feed_the_mask_losses(batch):
    images, targets = batch
    model = plugged(StubHost(order_maps=False))
    none = Targets(targets.ids, targets.masks, torch.zeros(3, dtype=torch.bool))
    assert {"seg", "order"}.isdisjoint(model(images, none).losses)
    unmasked = Targets(targets.ids)
    assert {"seg", "order"}.isdisjoint(model(images, unmasked).losses)


def test_gtr_loss_reaches_the_host_features(batch):
    images, targets = batch
    model = plugged(StubHost())
    model(images, targets).losses["gtr"].backward()
    assert model.host.conv.weight.grad.abs().sum() > 0


def test_hosts_missing_contract_attributes_are_named():
    host = StubHost()
    del host.has_order_maps
    with pytest.raises(ValueError, match="StubHost lacks the host attribute.*has_order_maps"):
        plugged(host)


@pytest.mark.parametrize("options, message", [
    ({"colour": 1}, "unknown plug-in option"),
    ({"graph": {"depth": 2}}, "unknown graph option.*neighbours"),
    ({"weights": {"lm": 1.0}}, "unknown loss weight.*slots"),
    ({"fusion": "concat"}, "unknown fusion 'concat'.*gated, mixture, average, glu"),
])
def test_bad_plugin_options_are_refused_with_the_valid_ones(options, message):
    with pytest.raises(ValueError, match=message):
        plugin_config("small", **options)


def test_factory_wraps_a_host_only_with_gtr():
    assert isinstance(build_model("crnn", CHARSET, **TINY_CRNN), CRNN)
    wrapped = build_model("crnn", CHARSET, **TINY_CRNN, gtr=True, graph={"nodes": 8}, plugin={"fusion": "average"})
    assert isinstance(wrapped, GTRPlugin) and wrapped.config.graph.nodes == 8 and wrapped.config.fusion == "average"
    with pytest.raises(ValueError, match="add gtr: true"):
        build_model("crnn", CHARSET, graph={"nodes": 8})
    with pytest.raises(ValueError, match="unknown CRNN option.*width_strides"):
        build_model("crnn", CHARSET, kernel=3)
    with pytest.raises(ValueError, match="unknown plug-in preset 'tiny'"):
        GTRPlugin(CRNN.from_preset(CHARSET, **TINY_CRNN), CHARSET, plugin_config("tiny"))



def test_graph_options_may_sit_inside_the_plugin_options():
    wrapped = build_model("crnn", CHARSET, **TINY_CRNN, gtr=True, plugin={"graph": {"nodes": 8}, "fusion": "glu"})
    assert wrapped.config.graph.nodes == 8 and wrapped.config.fusion == "glu"
    with pytest.raises(ValueError, match="graph options are given twice"):
        build_model("crnn", CHARSET, **TINY_CRNN, gtr=True, graph={"nodes": 8}, plugin={"graph": {"nodes": 4}})
