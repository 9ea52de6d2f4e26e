"""Training speed on the pretrained PP-OCRv6-small stages: the ``ppocr`` host, the VR with its language model on those
stages, and S-GTR on them, at 48×160 (aspect kept), bf16 autocast on or off, all stages trainable or the first ones
frozen, with the distillation term (a frozen teacher's forward pass) on or off.

Prints a Markdown table of forward+backward+AdamW images/s, the fastest of ``--iters`` timed steps after a warm-up (on
a shared CPU the fastest is the least disturbed), and each row's ratio to the bare ``ppocr`` host in the same run.

    .venv/bin/python benchmarks/pretrained_train_speed.py                       # the default rows, 1 thread
    .venv/bin/python benchmarks/pretrained_train_speed.py --threads 1 2 --batches 32 64
"""

from __future__ import annotations

import argparse
import itertools
import platform

import torch
from vr_speed import synthetic_batch, throughput

from sgtr.data.charset import Charset
from sgtr.engine.distillation import Distillation
from sgtr.models.factory import build_model
from sgtr.models.output import Targets

HEIGHT, WIDTH = 48, 160
PPOCR_VR = {"backbone": "ppocr", "out_stride": 4, "key_stride": 4, "order_depth": 2}
MODELS = {
    "ppocr": ("ppocr", {}),
    "VR + LM (ppocr stages)": ("sgtr", {"gtr": False, "mutual": False, "vr": PPOCR_VR}),
    "S-GTR (ppocr stages)": ("sgtr", {"vr": PPOCR_VR}),
}


def build(name: str, freeze: int) -> torch.nn.Module:
    model, options = MODELS[name]
    charset = Charset.from_spec("36")
    if model == "ppocr":
        return build_model("ppocr", charset, freeze_stages=freeze)
    options = {**options, "vr": {**options["vr"], "freeze_stages": freeze}}
    return build_model(model, charset, **options)


def images_per_s(model, distillation: Distillation | None, images: torch.Tensor, targets: Targets, bf16: bool,
                 iters: int) -> float:
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(images, targets)
            loss = out.loss if distillation is None else out.loss + distillation(out, images)
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    return throughput(step, len(images), iters, warmup=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--batches", type=int, nargs="+", default=[32])
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    charset = Charset.from_spec("36")
    rows = []
    grid = [(m, f, b, d) for m in MODELS for f in (-1, 2) for b in (True, False) for d in (False,)
            if b or m == "ppocr"] + [("ppocr", 2, True, True)]
    for threads, batch in itertools.product(args.threads, args.batches):
        torch.set_num_threads(threads)
        images, targets = synthetic_batch(charset, batch, HEIGHT, WIDTH)
        bare = None
        for name, freeze, bf16, distill in grid:
            torch.manual_seed(0)
            model = build(name, freeze)
            distillation = Distillation(build("ppocr", -1), weight=1.0) if distill else None
            speed = images_per_s(model, distillation, images, targets, bf16, args.iters)
            bare = speed if (name, freeze, bf16, distill) == ("ppocr", -1, True, False) else bare
            frozen = "none" if freeze < 0 else f"stem + stages 1–{freeze}" if freeze > 1 else "stem + stage 1"
            rows.append(f"| {name} | {batch} | {threads} | {'on' if bf16 else 'off'} | {frozen} | "
                        f"{'on' if distill else 'off'} | {speed:.1f} | {speed / bare:.2f} |")
    print(f"Training images/s at {HEIGHT}×{WIDTH}, {platform.machine()} CPU, torch {torch.__version__}; ratio to the "
          "bare ppocr host (bf16, nothing frozen) at the same batch and threads, same run.\n")
    print("| model | batch | threads | bf16 | frozen | distillation | images/s | ratio |")
    print("|---|---:|---:|---|---|---|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
