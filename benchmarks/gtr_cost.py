"""What GTR costs: a model with GTR against the same model without it, training step and batch-32 inference.

Prints a Markdown table: for the model without GTR and with it, the time of one training step (forward + backward,
all losses, masks on every sample) and of one inference batch of 32 (``torch.inference_mode``, eval mode), and the
with / without ratios against the budget (≤ 1.15 training, ≤ 1.10 inference). The pair is

* for ``sgtr``: VR+LM (``gtr: false, mutual: false``) against the full S-GTR (the given options);
* for a host (``crnn``, ``srn``, ``ppocr``, ...): the host alone against the host with ``gtr: true`` (the given
  ``graph``/``plugin`` options go to the plug-in only).

The model comes from ``--config`` (a training config: its model section, input size and charset) or from
``--model``/``--preset`` and ``KEY=YAML`` options (default: ``sgtr`` ``small`` at 32×128); options given on the
command line are added to the config's. The two models are timed alternately and each number is the fastest of several
runs, so that load from other processes on a shared CPU inflates both alike and least disturbs the minimum.
``--device cuda`` times on a GPU (synchronised).

``--adjacency`` adds a second table: one graph convolution (forward + backward) over GTR's graph with the block-form
adjacency GTR uses against PyTorch Geometric's ``DenseGCNConv`` on the assembled dense (B, N, N) matrix.

    .venv/bin/python benchmarks/gtr_cost.py                       # 1 thread, S-GTR small against VR+LM
    .venv/bin/python benchmarks/gtr_cost.py --config configs/sgtr_small.yaml 'graph={nodes: 16}'
    .venv/bin/python benchmarks/gtr_cost.py --model crnn          # CRNN against CRNN + GTR
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Callable

import torch
import yaml
from torch import nn
from vr_speed import synthetic_batch

from sgtr.data.charset import Charset
from sgtr.engine.config import load_config
from sgtr.models.factory import build_model
from sgtr.models.gtr.conv import Adjacency, GraphConv
from sgtr.models.gtr.graph import build_graph
from sgtr.models.sgtr import sgtr_config

TARGETS = {"train": 1.15, "infer": 1.10}


def fastest(steps: dict[str, Callable[[], None]], iters: int, warmup: int, sync: Callable[[], None]
            ) -> dict[str, float]:
    """Seconds of the fastest call of each step, the steps interleaved."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(iters):
        for name, step in steps.items():
            sync()
            start = time.perf_counter()
            step()
            sync()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


PLUGIN_OPTIONS = ("gtr", "graph", "plugin")


def model_pair(name: str, preset: str, charset: Charset, options: dict) -> dict[str, nn.Module]:
    """The model without GTR and with it (see the module docstring), built from the same seed."""
    if name == "sgtr":
        pair = {"without": {**options, "gtr": False, "mutual": False}, "with": options}
    else:
        pair = {"without": {k: v for k, v in options.items() if k not in PLUGIN_OPTIONS},
                "with": {**options, "gtr": True}}
    out = {}
    for label, model_options in pair.items():
        torch.manual_seed(0)
        out[label] = build_model(name, charset, preset=preset, **model_options)
    return out


def cost_table(name: str, preset: str, charset: Charset, size: tuple[int, int], options: dict, train_batch: int,
               train_iters: int, infer_iters: int, warmup: int, device: torch.device) -> list[dict[str, str]]:
    nets = {label: m.to(device) for label, m in model_pair(name, preset, charset, options).items()}
    images, targets = synthetic_batch(charset, train_batch, *size)
    images = images.to(device)
    targets = type(targets)(*(t.to(device) for t in (targets.ids, targets.masks, targets.has_mask)))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def train_step(model: nn.Module) -> Callable[[], None]:
        def step() -> None:
            model.zero_grad(set_to_none=True)
            model(images, targets).loss.backward()
        return step

    for model in nets.values():
        model.train()
    train = fastest({label: train_step(m) for label, m in nets.items()}, train_iters, warmup, sync)
    for model in nets.values():
        model.eval()
    with torch.inference_mode():
        infer = fastest({label: (lambda m=m: m(images[:32])) for label, m in nets.items()}, infer_iters, warmup,
                        sync)
    titles = {"without": f"{name} without GTR" + (" (VR+LM)" if name == "sgtr" else ""),
              "with": f"{name} with GTR"}
    rows = []
    for label, model in nets.items():
        rows.append({"model": titles[label], "params (M)": f"{sum(p.numel() for p in model.parameters()) / 1e6:.3f}",
                     f"train step b{train_batch} (ms)": f"{train[label] * 1e3:.0f}",
                     "infer b32 (ms)": f"{infer[label] * 1e3:.1f}"})
    train_ratio, infer_ratio = train["with"] / train["without"], infer["with"] / infer["without"]
    rows.append({"model": "ratio with / without", "params (M)": "",
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

    best = fastest({"block (B,T,n,n) + root chain": block, "PyG DenseGCNConv on (B,N,N)": dense}, iters, warmup,
                   lambda: None)
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
                        help="model options for both models, e.g. 'graph={nodes: 16}' 'language={width: 256}'")
    parser.add_argument("--config", help="a training config: its model, input size and charset")
    parser.add_argument("--model", default="sgtr", help="model name without --config (sgtr, or a host)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--height", type=int, default=32, help="input height without --config")
    parser.add_argument("--width", type=int, default=128, help="input width without --config")
    parser.add_argument("--device", default="cpu")
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
    name, preset, size, charset = args.model, args.preset, (args.height, args.width), Charset.from_spec("36")
    if args.config:
        config = load_config(args.config)
        model = config["model"]
        name, preset = model["name"], model.get("preset", "small")
        options = {**(model.get("options") or {}), **options}
        size = (int(config["data"]["height"]), int(config["data"]["width"]))
        c = config["charset"]
        charset = Charset.from_spec(c["spec"], max_length=c["max_length"], unknown=c["unknown"])
    print(f"Machine: {platform.processor() or platform.machine()}, device {args.device}, {args.threads} torch "
          f"thread(s); torch {torch.__version__}. Other work may share the CPU; each number is the fastest of "
          f"{args.train_iters} (training) or {args.infer_iters} (inference, adjacency) interleaved runs after "
          f"{args.warmup} warm-up. {name} {preset}, K={charset.num_classes}, T={charset.max_steps}, "
          f"{size[0]}×{size[1]} input, options {options or 'preset defaults'}.\n")
    print_table(cost_table(name, preset, charset, size, options, args.train_batch, args.train_iters,
                           args.infer_iters, args.warmup, torch.device(args.device)))
    if args.adjacency:
        graph = (options.get("graph") or (options.get("plugin") or {}).get("graph") or {}) if name != "sgtr" else None
        print_table(adjacency_table(options if name == "sgtr" else {"graph": graph}, args.infer_iters, args.warmup))


if __name__ == "__main__":
    main()
