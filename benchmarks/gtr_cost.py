"""What GTR costs on the CPU: S-GTR against VR+LM at 32×128, training step and batch-32 inference.

Prints a Markdown table: for ``vr_lm`` (the S-GTR model with ``gtr: false, mutual: false``) and the full ``sgtr``
(``small`` presets, all losses, masks on every sample), the time of one training step (forward + backward) and of one
inference batch (``torch.inference_mode``, eval mode), and sgtr / vr_lm ratios against the targets (≤ 1.15 training,
≤ 1.10 inference). The two models are timed alternately and each number is the fastest of several runs, so that
load from other processes on a shared CPU inflates both alike and least disturbs the minimum.

``--adjacency`` adds a second table: one graph convolution (forward + backward) over GTR's graph with the block-form
adjacency GTR uses against PyTorch Geometric's ``DenseGCNConv`` on the assembled dense (B, N, N) matrix.

    .venv/bin/python benchmarks/gtr_cost.py                       # 1 thread, as the acceptance numbers
    .venv/bin/python benchmarks/gtr_cost.py --adjacency 'graph={nodes: 16, spatial: [64]}'   # the spec's K_n
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Callable

import torch
import yaml

from sgtr.data.charset import Charset
from sgtr.models.gtr.conv import Adjacency, GraphConv
from sgtr.models.gtr.graph import build_graph
from sgtr.models.sgtr import SGTR, sgtr_config
from vr_speed import synthetic_batch

TARGETS = {"train": 1.15, "infer": 1.10}


def fastest(steps: dict[str, Callable[[], None]], iters: int, warmup: int) -> dict[str, float]:
    """Seconds of the fastest call of each step, the steps interleaved."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(iters):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def models(charset: Charset, options: dict) -> dict[str, SGTR]:
    out = {}
    for name, switches in (("vr_lm", {"gtr": False, "mutual": False}), ("sgtr", {})):
        torch.manual_seed(0)
        out[name] = SGTR(charset, sgtr_config("small", **{**options, **switches}))
    return out


def cost_table(options: dict, train_batch: int, train_iters: int, infer_iters: int, warmup: int
               ) -> list[dict[str, str]]:
    charset = Charset.from_spec("36")
    nets = models(charset, options)
    height, width = nets["sgtr"].config.vr.input_size
    images, targets = synthetic_batch(charset, train_batch, height, width)

    def train_step(model: SGTR) -> Callable[[], None]:
        def step() -> None:
            model.zero_grad(set_to_none=True)
            model(images, targets).loss.backward()
        return step

    for model in nets.values():
        model.train()
    train = fastest({name: train_step(m) for name, m in nets.items()}, train_iters, warmup)
    for model in nets.values():
        model.eval()
    with torch.inference_mode():
        infer = fastest({name: (lambda m=m: m(images[:32])) for name, m in nets.items()}, infer_iters, warmup)
    rows = []
    for name, model in nets.items():
        rows.append({"model": name, "params (M)": f"{sum(p.numel() for p in model.parameters()) / 1e6:.3f}",
                     f"train step b{train_batch} (ms)": f"{train[name] * 1e3:.0f}",
                     "infer b32 (ms)": f"{infer[name] * 1e3:.1f}"})
    train_ratio, infer_ratio = train["sgtr"] / train["vr_lm"], infer["sgtr"] / infer["vr_lm"]
    rows.append({"model": "ratio sgtr / vr_lm", "params (M)": "",
                 f"train step b{train_batch} (ms)": f"{train_ratio:.3f} (target ≤ {TARGETS['train']})",
                 "infer b32 (ms)": f"{infer_ratio:.3f} (target ≤ {TARGETS['infer']})"})
    return rows


def adjacency_table(options: dict, iters: int, warmup: int) -> list[dict[str, str]]:
    """One graph convolution over a random S-GTR graph: batch 32, T = 26, the options' K_n, the first spatial width."""
    from torch_geometric.nn import DenseGCNConv

    config = sgtr_config("small", **options).graph
    b, steps, n, d = 32, 26, config.nodes, config.spatial[0]
    probs = torch.rand(b, 37, 16, 64).softmax(dim=1)
    order = torch.rand(b, steps, 16, 64).flatten(2).softmax(dim=-1).view(b, steps, 16, 64)
    graph = build_graph(probs, order, n, config.neighbours)
    x = torch.randn(b, steps, n, d, requires_grad=True)
    block_conv = GraphConv(d, d)
    dense_conv = DenseGCNConv(d, d)

    def block() -> None:
        adjacency = Adjacency.normalise(graph.edges, graph.roots, True)
        block_conv(x, adjacency).sum().backward()

    def dense() -> None:
        # The 0/1 dense adjacency with the root chain; DenseGCNConv adds the self-loops and normalises itself.
        a = Adjacency.normalise(graph.edges, graph.roots, True).dense()
        a = (a > 0).float() - torch.eye(steps * n)
        dense_conv(x.flatten(1, 2), a).sum().backward()

    best = fastest({"block (B,T,n,n) + root chain": block, "PyG DenseGCNConv on (B,N,N)": dense}, iters, warmup)
    return [{"adjacency": name, "nodes per image": f"N = {steps}×{n} = {steps * n}", "width": str(d),
             "fwd+bwd b32 (ms)": f"{t * 1e3:.1f}"} for name, t in best.items()]


def print_table(rows: list[dict[str, str]]) -> None:
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row[k] for k in header) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("options", nargs="*", metavar="KEY=YAML",
                        help="S-GTR options for both models, e.g. 'graph={nodes: 16}' 'language={width: 256}'")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--train-iters", type=int, default=8, help="timed training steps per model (the fastest "
                        "counts)")
    parser.add_argument("--infer-iters", type=int, default=40, help="timed inference batches per model")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--adjacency", action="store_true", help="also compare block and dense adjacency")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = {}
    for text in args.options:
        key, _, value = text.partition("=")
        options[key] = yaml.safe_load(value)
    print(f"Machine: {platform.processor() or platform.machine()}, {args.threads} torch thread(s); torch "
          f"{torch.__version__}. Other work may share the CPU; each number is the fastest of {args.train_iters} "
          f"(training) or {args.infer_iters} (inference, adjacency) interleaved runs after {args.warmup} warm-up. "
          f"Charset 36 (K=37), T=26, 32×128 input, S-GTR options {options or 'preset defaults'}.\n")
    print_table(cost_table(options, args.train_batch, args.train_iters, args.infer_iters, args.warmup))
    if args.adjacency:
        print_table(adjacency_table(options, args.infer_iters, args.warmup))


if __name__ == "__main__":
    main()
