"""Speed of the segmentation recognizer (VR) on the CPU: parameters, training and inference throughput.

Prints a Markdown table: for each configuration (``small`` at 32×128 with output stride 2 and 4, ``base`` at 64×256)
and each torch thread count, forward+backward images/s at batch 64 (with all losses, masks on every sample) and
inference images/s at batch 32 (``torch.inference_mode``, eval mode).

    .venv/bin/python benchmarks/vr_speed.py                 # all rows, 1 and 2 threads
    .venv/bin/python benchmarks/vr_speed.py --threads 1 --only small-s2 small-s4
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from sgtr.data.charset import Charset
from sgtr.models.output import Targets
from sgtr.models.vr import SegmentationRecognizer, vr_config

CONFIGS = {
    "small-s2": ("small", {}),
    "small-s4": ("small", {"out_stride": 4}),
    "base": ("base", {}),
}


def synthetic_batch(charset: Charset, batch: int, height: int, width: int) -> tuple[torch.Tensor, Targets]:
    """Random images with 6-character labels whose masks split the middle of the image into 6 boxes."""
    words = ["abc123"] * batch
    masks = torch.zeros(batch, height, width, dtype=torch.long)
    cols = torch.arange(width) * 8 // width  # 8 slots: margin, 6 characters, margin
    masks[:, height // 4: 3 * height // 4] = torch.where((cols > 0) & (cols < 7), cols, 0)
    return torch.rand(batch, 3, height, width) * 2 - 1, Targets(charset.encode_batch(words), masks,
                                                                  torch.ones(batch, dtype=torch.bool))


def throughput(step, batch: int, iters: int, warmup: int) -> float:
    """Images/s of the fastest of ``iters`` timed calls: the CPU is shared, and the minimum is the least disturbed."""
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(iters):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return batch / best


def measure(name: str, threads: int, iters: int, warmup: int) -> dict[str, float | str]:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    charset = Charset.from_spec("36")
    preset, overrides = CONFIGS[name]
    config = vr_config(preset, **overrides)
    model = SegmentationRecognizer(charset, config)
    height, width = config.input_size
    images, targets = synthetic_batch(charset, 64, height, width)

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        model(images, targets).loss.backward()

    model.train()
    train = throughput(train_step, 64, iters, warmup)
    model.eval()
    with torch.inference_mode():
        infer = throughput(lambda: model(images[:32]), 32, iters, warmup)
    h, w = height // config.out_stride, width // config.out_stride
    return {"model": name, "input": f"{height}×{width}", "map": f"{h}×{w} (s{config.out_stride})",
            "params (M)": f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}", "threads": str(threads),
            "train img/s (b64)": f"{train:.1f}", "infer img/s (b32)": f"{infer:.1f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--iters", type=int, default=3, help="timed iterations per measurement (best one counts)")
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    rows = [measure(name, t, args.iters, args.warmup) for name in args.only for t in args.threads]
    print(f"Machine: {platform.processor() or platform.machine()}, 2-core CPU dev machine, no GPU; torch "
          f"{torch.__version__}. Other work may have shared the CPU during the run; each number is the best of "
          f"{args.iters} timed iterations after {args.warmup} warm-up. Charset 36 (K=37), T=26.\n")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")


if __name__ == "__main__":
    main()
