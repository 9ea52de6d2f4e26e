"""TRBA (Baek et al., ICCV 2019, "What is wrong with scene text recognition model comparisons?"): TPS rectification,
ResNet features, a BiLSTM sequence model and a Bahdanau attention decoder — the strongest row of that paper's grid, and
one of the hosts S-GTR plugs GTR into.

Tensor flow: images (B, 3, H, W) → TPS (a localization net predicts F fiducial points; the thin-plate spline through
them resamples the image to ``input_size``, RARE/ASTER style) → ResNet → features (B, D, H', W'), 8×32 for ``small``
→ mean over height → two BiLSTM stages → memory (B, W', d) → attention LSTM decoder, T unrolled steps: at step t the
attention α_t over the W' memory columns is computed from the previous state, the context Σ_w α_t(w)·m_w and the
previous token's embedding drive an LSTMCell, and its hidden state h_t is classified into K classes.

Training (``targets`` given) is teacher-forced: the previous token is the ground truth. Otherwise decoding is greedy
(the previous token is the last argmax), or a beam search with ``beam_width`` > 1. Both loops run over steps, never over
samples; tracing unrolls them, so the ONNX graph (greedy) has no control flow.

Output: ``logits`` (B, T, K); ``features`` the ResNet map; ``order_maps`` α_t(w) broadcast over height and divided by
H' (each map sums to 1); ``extras``: ``step_hidden`` h_t (B, T, d_h), ``rectified`` the TPS output, and with beam
search ``beam_score`` (B,), the best path's log-probability up to its EOS. TRBA has no language model
(``language_branch`` None) and a single output, so ``branches`` is empty. Loss: ``ce``, the cross-entropy over the
valid steps.

Beam search: log-probabilities add along a path; a path that has emitted EOS is finished and keeps its score (no
length normalisation, so at equal evidence shorter words win, as in plain beam search). Its ``logits`` are the best
path's per-step log-probabilities, with any class the model scored above the path's token lowered to just below it, so
the shared greedy decoder (``sgtr.models.decoding``) reads exactly the beam's text; the tokens' own log-probabilities
are unchanged, but where the beam overruled the argmax the decoder's confidence is then slightly overstated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.hosts.common import VisualEncoder, preset_config
from sgtr.models.layers import ConvBNAct
from sgtr.models.losses import sequence_loss
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class TRBAConfig(BackboneChoice):
    """Architecture and decoding. ``input_size`` (H, W) is also the TPS output size, so features always have the same
    grid whatever size the input has."""

    input_size: tuple[int, int] = (32, 128)
    fiducials: int = 20  # F, TPS control points: F/2 along the top edge, F/2 along the bottom
    tps_widths: tuple[int, ...] = (16, 32, 64)  # localization net: one stride-2 3×3 conv per width
    tps_hidden: int = 64
    stem: tuple[int, ...] = (32,)  # ResNet: stride 2 in the stem ...
    widths: tuple[int, ...] = (48, 96, 192)
    depths: tuple[int, ...] = (1, 2, 2)
    strides: tuple[int, ...] = (1, 2, 1)  # ... and 2 more: an 8×32 map at 32×128
    lstm_hidden: int = 128  # BiLSTM width per direction, and of its output projection
    hidden: int = 128  # attention decoder LSTM
    embed: int = 64  # previous-token embedding
    beam_width: int = 1  # 1 = greedy


PRESETS: dict[str, TRBAConfig] = {
    # CPU-friendly: 2.4M parameters, 8×32 features at 32×128.
    "small": TRBAConfig(),
    # Close to Baek et al.'s 49.6M TRBA (32×100 input, ResNet of 1/2/5/3 blocks, 256-wide BiLSTM and decoder), but
    # keeping an 8×25 map for GTR where the original pools the height to 1.
    "base": TRBAConfig(input_size=(32, 100), tps_widths=(64, 128, 256, 512), tps_hidden=256, stem=(32, 64),
                       widths=(128, 256, 512, 512), depths=(1, 2, 5, 3), strides=(1, 2, 1, 1), lstm_hidden=256,
                       hidden=256, embed=128),
}


def fiducial_points(count: int) -> Tensor:
    """(F, 2) canonical control points (x, y) in [-1, 1]: evenly spaced along the top edge, then along the bottom."""
    if count < 4 or count % 2:
        raise ValueError(f"TPS needs an even number of at least 4 fiducial points, got {count}")
    xs = torch.linspace(-1.0, 1.0, count // 2, dtype=torch.float64)
    top = torch.stack((xs, torch.full_like(xs, -1.0)), dim=-1)
    return torch.cat((top, top * torch.tensor([1.0, -1.0], dtype=torch.float64)))


def tps_kernel(points: Tensor, fiducials: Tensor) -> Tensor:
    """(N, 2) points → (N, F + 3) rows [1, x, y, U(|p − c_1|), ..., U(|p − c_F|)] with the TPS radial basis
    U(r) = r² log r (0 at r = 0)."""
    r = torch.cdist(points, fiducials)
    radial = r.square() * torch.log(r.clamp_min(1e-12))
    return torch.cat((torch.ones_like(points[:, :1]), points, radial), dim=1)


class TPS(nn.Module):
    """Thin-plate-spline rectification (Shi et al. RARE, CVPR 2016; as in Baek et al.): (B, 3, H, W) → (B, 3, *size).

    The spline maps the canonical fiducials onto the predicted ones; solving for its parameters is one product with a
    constant (F+3)×(F+3) inverse, and evaluating it at every output pixel one product with a constant kernel, so the
    whole warp is two batched matmuls and a ``grid_sample``. The last layer starts at zero weight with the canonical
    points as bias: at initialisation the rectified image is the input resampled at the output size."""

    def __init__(self, fiducials: int, size: tuple[int, int], widths: tuple[int, ...], hidden: int):
        super().__init__()
        self.size = size
        base = fiducial_points(fiducials)
        h, w = size
        # Output pixel centres in grid_sample's [-1, 1] coordinates (align_corners=False).
        ys = (torch.arange(h, dtype=torch.float64) * 2 + 1) / h - 1
        xs = (torch.arange(w, dtype=torch.float64) * 2 + 1) / w - 1
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).view(-1, 2)
        # The TPS system: F interpolation rows, then 3 side conditions (Σw = 0, Σw·c = 0) with zero right-hand side.
        system = torch.zeros(fiducials + 3, fiducials + 3, dtype=torch.float64)
        system[:fiducials] = tps_kernel(base, base)
        system[fiducials:, 3:] = torch.cat((torch.ones(1, fiducials, dtype=torch.float64), base.t()))
        self.register_buffer("inverse", torch.linalg.inv(system).float(), persistent=False)
        self.register_buffer("kernel", tps_kernel(grid, base).float(), persistent=False)
        convs, prev = [], 3
        for width in widths:
            convs.append(ConvBNAct(prev, width, 3, stride=2))
            prev = width
        self.localization = nn.Sequential(*convs)
        self.head = nn.Sequential(nn.Linear(prev, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2 * fiducials))
        nn.init.zeros_(self.head[-1].weight)
        with torch.no_grad():
            self.head[-1].bias.copy_(base.flatten())

    def forward(self, images: Tensor) -> Tensor:
        b = images.shape[0]
        points = self.head(self.localization(images).mean(dim=(2, 3))).view(b, -1, 2)
        params = self.inverse @ F.pad(points, (0, 0, 0, 3))  # (B, F + 3, 2); the side conditions' targets are 0
        grid = (self.kernel @ params).view(b, *self.size, 2)
        return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


class BiLSTM(nn.Module):
    """One sequence-model stage of Baek et al.: a bidirectional LSTM over (B, L, C), then a linear map of both
    directions to ``out`` channels."""

    def __init__(self, in_channels: int, hidden: int, out: int):
        super().__init__()
        self.lstm = nn.LSTM(in_channels, hidden, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * hidden, out)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.lstm(x)[0])


class AttentionDecoder(nn.Module):
    """Bahdanau attention LSTM decoder (Bahdanau et al. 2015; Baek et al.'s "Attn" stage) over a (B, L, C) memory.

    Step t: e_t(l) = w · tanh(W_m m_l + W_h h_{t−1}), α_t = softmax_l(e_t), context c_t = Σ_l α_t(l) m_l,
    (h_t, s_t) = LSTMCell([c_t; E(y_{t−1})], (h_{t−1}, s_{t−1})), logits_t = W_o h_t. y_{−1} is a GO token (id K, one
    past the classes). W_m m is computed once for all steps."""

    def __init__(self, in_channels: int, hidden: int, embed: int, num_classes: int, steps: int):
        super().__init__()
        self.num_classes, self.steps, self.hidden = num_classes, steps, hidden
        self.memory_proj = nn.Linear(in_channels, hidden, bias=False)
        self.state_proj = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.embed = nn.Embedding(num_classes + 1, embed)  # + GO
        self.cell = nn.LSTMCell(in_channels + embed, hidden)
        self.classifier = nn.Linear(hidden, num_classes)

    def step(self, memory: Tensor, keys: Tensor, state: tuple[Tensor, Tensor], tokens: Tensor
             ) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """One decoding step for a (N, L, ·) memory: the new LSTM state and the attention α_t (N, L) it used."""
        alpha = self.score(torch.tanh(keys + self.state_proj(state[0])[:, None])).squeeze(-1).softmax(dim=-1)
        context = torch.einsum("nl,nlc->nc", alpha, memory)
        return self.cell(torch.cat((context, self.embed(tokens)), dim=-1), state), alpha

    def start(self, memory: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """Zero state and GO tokens for every row of ``memory``."""
        zeros = memory.new_zeros(memory.shape[0], self.hidden)
        return (zeros, zeros), torch.full_like(zeros[:, 0], self.num_classes, dtype=torch.long)

    def forward(self, memory: Tensor, ids: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Teacher-forced on ``ids`` (B, T) when given, else greedy → logits (B, T, K), h (B, T, d_h), α (B, T, L)."""
        keys = self.memory_proj(memory)
        state, tokens = self.start(memory)
        logits, hidden, alphas = [], [], []
        for t in range(self.steps):
            state, alpha = self.step(memory, keys, state, tokens)
            logits.append(self.classifier(state[0]))
            hidden.append(state[0])
            alphas.append(alpha)
            # Steps after the label's EOS are PAD (ignored by the loss); feed EOS there.
            tokens = logits[-1].argmax(dim=-1) if ids is None else ids[:, t].clamp_min(0)
        return torch.stack(logits, 1), torch.stack(hidden, 1), torch.stack(alphas, 1)

    def beam_search(self, memory: Tensor, width: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The best of ``width`` (at most K) beams (see the module docstring) → logits, h, α as ``forward``, and its
        score (B,)."""
        b, length, _ = memory.shape
        k = self.num_classes
        memory = memory.repeat_interleave(width, dim=0)  # row b·width + j is beam j of sample b
        keys = self.memory_proj(memory)
        state, tokens = self.start(memory)
        rows = torch.arange(b, device=memory.device)[:, None]
        # Only beam 0 is live at the start, so the first expansion does not pick the same token width times.
        scores = memory.new_full((b, width), -torch.inf)
        scores[:, 0] = 0.0
        finished = torch.zeros(b, width, dtype=torch.bool, device=memory.device)
        eos_only = torch.full((k,), -torch.inf, device=memory.device)
        eos_only[EOS_ID] = 0.0
        paths = {name: memory.new_zeros(b, width, 0, size) for name, size in (("logp", k), ("h", self.hidden),
                                                                              ("alpha", length))}
        chosen = torch.zeros(b, width, 0, dtype=torch.long, device=memory.device)
        for _ in range(self.steps):
            state, alpha = self.step(memory, keys, state, tokens)
            logp = self.classifier(state[0]).log_softmax(dim=-1).view(b, width, k)
            # A finished path can only continue with EOS, at no cost: its score stays final.
            extend = torch.where(finished[..., None], eos_only, logp)
            scores, index = (scores[..., None] + extend).flatten(1).topk(width, dim=1)
            parent, token = index // k, index % k
            step = {"logp": logp, "h": state[0].view(b, width, -1), "alpha": alpha.view(b, width, -1)}
            paths = {name: torch.cat((paths[name][rows, parent], step[name][rows, parent, None]), dim=2)
                     for name in paths}
            chosen = torch.cat((chosen[rows, parent], token[..., None]), dim=2)
            finished = finished[rows, parent] | (token == EOS_ID)
            state = tuple(s.view(b, width, -1)[rows, parent].flatten(0, 1) for s in state)
            tokens = token.flatten()
        # topk sorts: beam 0 is the best path.
        logp, tokens = paths["logp"][:, 0], chosen[:, 0, :, None]
        token_logp = logp.gather(-1, tokens)
        below = torch.nextafter(token_logp, torch.full_like(token_logp, -torch.inf))
        logits = torch.minimum(logp, below).scatter(-1, tokens, token_logp)
        return logits, paths["h"][:, 0], paths["alpha"][:, 0], scores[:, 0]


class TRBA(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    language_branch = None
    has_order_maps = True

    def __init__(self, charset: Charset, config: TRBAConfig | None = None):
        super().__init__()
        self.config = config = config or TRBAConfig()
        if not 1 <= config.beam_width <= charset.num_classes:
            raise ValueError(f"beam_width must be between 1 and the number of classes {charset.num_classes}, "
                             f"got {config.beam_width}")
        self.tps = TPS(config.fiducials, config.input_size, config.tps_widths, config.tps_hidden)
        self.backbone = VisualEncoder(config.stem, config.widths, config.depths, config.strides, choice=config)
        self.sequence = nn.Sequential(BiLSTM(self.backbone.channels, config.lstm_hidden, config.lstm_hidden),
                                      BiLSTM(config.lstm_hidden, config.lstm_hidden, config.lstm_hidden))
        self.decoder = AttentionDecoder(config.lstm_hidden, config.hidden, config.embed, charset.num_classes,
                                        charset.max_steps)
        self.feature_channels, self.hidden_width = self.backbone.channels, config.hidden

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "TRBA":
        return cls(charset, preset_config(PRESETS, preset, "TRBA", overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        rectified = self.tps(images)
        features = self.backbone(rectified)
        memory = self.sequence(features.mean(dim=2).transpose(1, 2))  # (B, W', d): one column per position
        extras = {"rectified": rectified}
        if targets is None and self.config.beam_width > 1:
            logits, hidden, alpha, extras["beam_score"] = self.decoder.beam_search(memory, self.config.beam_width)
        else:
            logits, hidden, alpha = self.decoder(memory, None if targets is None else targets.ids)
        extras["step_hidden"] = hidden
        height = features.shape[2]
        order_maps = (alpha[:, :, None, :] / height).expand(-1, -1, height, -1)
        out = RecognizerOutput(logits=logits, order_maps=order_maps, features=features, extras=extras)
        if targets is not None:
            out.losses = {"ce": sequence_loss(logits, targets.ids)}
            out.loss = out.losses["ce"]
        return out
