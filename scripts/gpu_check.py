"""The Python side of ``scripts/gpu_check.sh``: dependencies, synthetic words, a short run of the real training engine
with its figures (images/s, peak memory, the loss curve), and the verdict on whether the loss fell.

Subcommands, in the order the shell script runs them:

* ``deps``: which of sgtr's runtime dependencies import; installs the missing ones from a wheelhouse folder.
* ``prepare``: makes that wheelhouse on a machine with PyPI (``pip download`` for the target's Python version).
* ``words``: renders synthetic words with character masks through sgtr's renderer, drawn with Pillow's built-in
  scalable font (so a machine without fonts can render) and the labels of the committed training split as text.
* ``train``: trains the config for a few hundred steps, one process per GPU under torchrun, and writes the figures.
* ``report``: prints the figures and exits 1 when the loss did not fall (``loss_fell``).

``deps`` and ``prepare`` run before the dependencies are known to import, so this module imports only the standard
library at the top.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]

# sgtr's runtime dependencies, import name → distribution: pyproject's dependencies and its train and synth extras.
# wordfreq (synth) is left out: the check brings its own words.
RUNTIME = {"numpy": "numpy", "PIL": "pillow", "lmdb": "lmdb", "rapidfuzz": "rapidfuzz", "yaml": "pyyaml",
           "safetensors": "safetensors", "tqdm": "tqdm", "torch": "torch", "lightning": "lightning",
           "tensorboard": "tensorboard", "matplotlib": "matplotlib", "cv2": "opencv-python-headless"}
# What a machine with its own PyTorch image may lack and is small enough to carry (about 7 MB): Lightning's own
# dependencies come too, since the wheels are installed without resolving theirs. Not torch, numpy or OpenCV (tens of
# MB each); name them to ``prepare`` where the target lacks them.
WHEELHOUSE = ("lmdb", "rapidfuzz", "pyyaml", "safetensors", "tqdm", "lightning", "lightning-utilities", "torchmetrics",
              "fsspec", "packaging", "typing-extensions")
# pip matches a manylinux tag exactly, so every glibc level the wheels may be built for is named.
PLATFORMS = ("manylinux_2_39_x86_64", "manylinux_2_35_x86_64", "manylinux_2_34_x86_64", "manylinux_2_31_x86_64",
             "manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")

# The loss fell when the mean of its last fifth of logged values is this fraction below the mean of its first fifth.
MIN_DROP = 0.1
MIN_POINTS = 5  # fewer logged losses than this: nothing to judge (a dry run of a few steps)


def say(message: str) -> None:
    print(f"gpu_check: {message}", flush=True)


# ---- dependencies ---------------------------------------------------------------------------------------------------
def missing_modules(modules: Sequence[str]) -> list[str]:
    """Those of ``modules`` that do not import (absent, or a binary that fails to load)."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 (a broken extension raises OSError, AttributeError, ... as well)
            missing.append(module)
    return missing


def distribution_of(wheel: Path) -> str:
    """A wheel's distribution name, from its file name (``lightning_utilities-0.15.3-py3-none-any.whl``)."""
    return wheel.name.split("-")[0]


def installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def deps(args: argparse.Namespace) -> int:
    """Install from the wheelhouse the wheels of the runtime dependencies that do not import, and every other wheel
    there whose distribution is not installed (their own dependencies, which pip is told not to resolve)."""
    missing = missing_modules(list(RUNTIME))
    if not missing:
        say("every runtime dependency imports")
        return 0
    names = ", ".join(f"{m} ({RUNTIME[m]})" for m in missing)
    if args.wheelhouse is None:
        say(f"missing: {names}; pass --wheelhouse DIR made by 'scripts/gpu_check.sh --prepare DIR'")
        return 1
    wanted = {normalised(RUNTIME[m]) for m in missing}
    wheels = sorted(w for w in Path(args.wheelhouse).glob("*.whl")
                    if normalised(distribution_of(w)) in wanted or not installed(distribution_of(w)))
    if wheels:
        say(f"missing: {names}; installing {len(wheels)} wheels from {args.wheelhouse} into {args.site}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
                        "--upgrade", "--target", str(args.site), *map(str, wheels)], check=True)
        if str(args.site) not in sys.path:
            sys.path.insert(0, str(args.site))
        importlib.invalidate_caches()
    still = missing_modules(missing)
    if still:
        say(f"still missing: {', '.join(f'{m} ({RUNTIME[m]})' for m in still)}: not in the wheelhouse "
            f"{args.wheelhouse} (add them: scripts/gpu_check.sh --prepare DIR PACKAGE ...)")
        return 1
    say("every runtime dependency imports")
    return 0


def pinned(name: str) -> str:
    """``name==version`` of the version this environment runs (the one sgtr is tested with), else ``name``."""
    try:
        return f"{name}=={importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return name


def prepare(args: argparse.Namespace) -> int:
    names = [pinned(name) for name in (*WHEELHOUSE, *args.packages)]
    platforms = [flag for platform in PLATFORMS for flag in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", args.python_version, "--implementation", "cp", *platforms, "-d", str(args.dir),
               *names]
    done = subprocess.run(command)
    if done.returncode == 0:
        size = sum(p.stat().st_size for p in Path(args.dir).glob("*.whl"))
        say(f"{args.dir}: {len(list(Path(args.dir).glob('*.whl')))} wheels, {size / 2**20:.1f} MiB, for Python "
            f"{args.python_version}")
    return done.returncode


# ---- the run's config -----------------------------------------------------------------------------------------------
def run_config(args: argparse.Namespace) -> dict:
    """The config under test with the check's changes: its own data, no validation, ``--steps`` steps, a checkpoint
    only at the end; ``--tiny`` shrinks the model, the crops and the batch for a CPU dry run."""
    from sgtr.engine.config import load_config

    steps = args.steps
    overrides = [f"data.train=[{{path: {args.work / 'words'}}}]", "data.val={}", f"trainer.max_steps={steps}",
                 f"trainer.val_every={steps}", f"trainer.log_every={max(1, steps // 60)}",
                 f"trainer.out={args.work / 'run'}", "trainer.init_from=null",
                 f"trainer.accelerator={'cpu' if args.cpu else 'gpu'}", f"trainer.devices={args.procs}"]
    if args.batch:
        overrides.append(f"data.batch_size={args.batch}")
    if args.tiny:
        overrides += ["model.preset=small", "model.options={}", "data.height=32", "data.width=128",
                      "data.batch_size=8", "optim.base_batch=8", "data.workers=0"]
    config = load_config(args.config, overrides)
    if not args.tiny:
        # Loader processes per GPU process: the config's, at most what the cores allow beside the training processes.
        per_process = max(1, (os.cpu_count() or 1) // max(1, args.procs) - 1)
        config["data"]["workers"] = min(config["data"]["workers"], per_process)
    return config


# ---- words ----------------------------------------------------------------------------------------------------------
def builtin_font(folder: Path) -> Path:
    """Pillow's built-in scalable face (Aileron, Pillow >= 10.1) written to a file, for machines with no fonts."""
    from PIL import ImageFont, features

    face = ImageFont.load_default(size=32) if features.check("freetype2") else None
    font_bytes = getattr(face, "font_bytes", None)
    if not font_bytes:
        raise SystemExit("gpu_check: Pillow has no built-in scalable font here (needs Pillow >= 10.1 with FreeType); "
                         "carry pillow in the wheelhouse (scripts/gpu_check.sh --prepare DIR pillow)")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pillow_builtin.ttf"
    path.write_bytes(font_bytes)
    return path


def training_split_words(out: Path) -> Path:
    """The labels of the committed training split (never the validation split), one a line, as the text to draw."""
    from sgtr.data.labels import parse_label_file

    words: dict[str, None] = {}
    for list_file in sorted((ROOT / "splits" / "train").glob("*/labels.tsv")):
        words.update(dict.fromkeys(item.label for item in parse_label_file(list_file)[0]))
    out.write_text("\n".join(words), encoding="utf-8")
    return out


def words(args: argparse.Namespace) -> int:
    from sgtr.engine.trainer import charset_from_config
    from sgtr.synth.config import SynthConfig
    from sgtr.synth.render import SynthGenerator
    from sgtr.synth.writer import write_shard

    config = run_config(args)
    data = config["data"]
    font = builtin_font(args.work / "fonts")
    generator = SynthGenerator.build(SynthConfig(
        charset_from_config(config), seed=1, height=data["height"], width=data["width"],
        keep_ratio=data["keep_ratio"], font_dirs=(str(font),),
        words_file=str(training_split_words(args.work / "words.txt"))))
    workers = max(1, os.cpu_count() or 1)
    report = write_shard(generator, args.work / "words", args.count, workers=workers)
    say(f"rendered {report.written} words with masks at {data['height']}x{data['width']} in {report.seconds:.1f} s "
        f"({report.written / max(report.seconds, 1e-9):.0f} images/s, {workers} processes, font {font.name})")
    return 0


# ---- training -------------------------------------------------------------------------------------------------------
def meter(skip: int):
    """A Lightning callback timing the steps after the first ``skip`` (start-up, cuDNN's first calls) and reading
    peak memory: ``torch.cuda.max_memory_allocated`` on GPUs (the largest over the ranks), peak RSS on the CPU."""
    import resource

    import torch
    from lightning.pytorch.callbacks import Callback

    class Meter(Callback):
        def __init__(self):
            self.start: float | None = None
            self.images = self.first_step = 0
            self.figures: dict = {}

        def _sync(self, module) -> None:
            if module.device.type == "cuda":
                torch.cuda.synchronize(module.device)

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if trainer.global_step == skip:
                self._sync(module)
                self.start, self.images, self.first_step = time.perf_counter(), 0, trainer.global_step
            elif self.start is not None:
                self.images += len(batch) * trainer.world_size

        def on_train_end(self, trainer, module) -> None:
            self._sync(module)
            seconds = time.perf_counter() - self.start if self.start is not None else float("nan")
            cuda = module.device.type == "cuda"
            peak = (torch.cuda.max_memory_allocated(module.device) if cuda
                    else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            peak = trainer.strategy.reduce(torch.tensor(float(peak), device=module.device), reduce_op="max").item()
            self.figures = {
                "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda
                else ["cpu"],
                "world_size": trainer.world_size, "precision": str(trainer.precision),
                "measured_steps": trainer.global_step - self.first_step if self.start is not None else 0,
                "seconds": seconds, "images_per_s": self.images / seconds if seconds > 0 else float("nan"),
                "peak_memory_bytes": peak, "memory": "torch.cuda.max_memory_allocated" if cuda else "peak RSS",
                "parameters": sum(p.numel() for p in module.model.parameters()),
            }

    return Meter()


def logged_losses(run: Path) -> list[tuple[int, float]]:
    """(step, train/loss) of every logged step, from the run's CSV log."""
    curve = []
    for metrics in sorted(run.glob("csv/version_*/metrics.csv")):
        with metrics.open(newline="") as f:
            curve += [(int(row["step"]), float(row["train/loss"])) for row in csv.DictReader(f) if row["train/loss"]]
    return sorted(curve)


def train(args: argparse.Namespace) -> int:
    import torch

    from sgtr.engine.console import lightning_quiet
    from sgtr.engine.trainer import train as run_training

    config = run_config(args)
    callback = meter(skip=max(1, args.steps // 10))
    start = time.perf_counter()
    with lightning_quiet():
        run_training(config, callbacks=[callback])
    if int(os.environ.get("RANK", 0)) != 0:
        return 0
    figures = {**callback.figures, "config": str(args.config), "model": config["model"]["name"],
               "preset": config["model"]["preset"], "batch_per_device": config["data"]["batch_size"],
               "input": [config["data"]["height"], config["data"]["width"]], "steps": args.steps,
               "wall_seconds": time.perf_counter() - start, "torch": torch.__version__, "dry_run": args.cpu,
               "losses": logged_losses(args.work / "run")}
    (args.work / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


# ---- the verdict ----------------------------------------------------------------------------------------------------
def loss_fell(losses: Sequence[float], min_drop: float = MIN_DROP) -> bool | None:
    """Whether the mean of the last fifth of ``losses`` lies at least ``min_drop`` (a fraction) below the mean of the
    first fifth; None when there are fewer than ``MIN_POINTS`` to judge. A non-finite loss never counts as falling."""
    if len(losses) < MIN_POINTS:
        return None
    window = len(losses) // 5
    first, last = sum(losses[:window]) / window, sum(losses[-window:]) / window
    return math.isfinite(first) and math.isfinite(last) and last <= first * (1 - min_drop)


def report(args: argparse.Namespace) -> int:
    figures = json.loads(Path(args.figures).read_text(encoding="utf-8"))
    devices = figures["devices"]
    say(f"{len(devices)} x {devices[0]}" if devices and len(set(devices)) == 1 else f"devices {devices}")
    say(f"{figures['model']} {figures['preset']} ({figures['config']}), {figures['parameters'] / 1e6:.1f}M "
        f"parameters, {figures['input'][0]}x{figures['input'][1]}, batch {figures['batch_per_device']} per process x "
        f"{figures['world_size']} processes, {figures['precision']}, torch {figures['torch']}")
    say(f"training: {figures['images_per_s']:.1f} images/s over steps {figures['steps'] - figures['measured_steps']}"
        f"-{figures['steps']} ({figures['seconds']:.1f} s; {figures['steps']} steps in {figures['wall_seconds']:.1f} s "
        "with start-up)")
    say(f"peak memory: {figures['peak_memory_bytes'] / 2**30:.2f} GiB ({figures['memory']}, largest over processes)")
    curve = figures["losses"]
    say("loss curve (step loss): " + ", ".join(f"{step} {loss:.3f}" for step, loss in curve))
    fell = loss_fell([loss for _, loss in curve], args.min_drop)
    if fell is None:
        verdict = f"only {len(curve)} logged losses, too few to judge (at least {MIN_POINTS})"
        say(f"{verdict}: a dry run passes, a GPU run fails" if figures["dry_run"] else f"FAIL: {verdict}")
        return 0 if figures["dry_run"] else 1
    say(f"{'PASS' if fell else 'FAIL'}: the loss {'fell' if fell else 'did not fall'} by at least "
        f"{args.min_drop:.0%} (mean of the first fifth of the logged losses against the last fifth)")
    return 0 if fell else 1


def gpus(args: argparse.Namespace) -> int:
    import torch

    print(torch.cuda.device_count() if torch.cuda.is_available() else 0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("deps", help="check sgtr's runtime dependencies; install missing ones from a wheelhouse")
    p.add_argument("--wheelhouse", type=Path)
    p.add_argument("--site", type=Path, help="folder the wheels are installed into (on PYTHONPATH)")
    p.set_defaults(func=deps)
    p = sub.add_parser("prepare", help="download the wheelhouse for a target's Python version")
    p.add_argument("dir", type=Path)
    p.add_argument("--python-version", default="3.12", help="the target's Python, such as 3.12 (default)")
    p.add_argument("packages", nargs="*", help="more distributions to carry (opencv-python-headless, pillow, ...)")
    p.set_defaults(func=prepare)
    for name, func in (("words", words), ("train", train)):
        p = sub.add_parser(name)
        p.add_argument("--config", type=Path, required=True)
        p.add_argument("--work", type=Path, required=True)
        p.add_argument("--steps", type=int, default=300)
        p.add_argument("--count", type=int, default=20000)
        p.add_argument("--procs", type=int, default=1)
        p.add_argument("--batch", type=int, default=0, help="batch per process (0: the config's)")
        p.add_argument("--cpu", action="store_true")
        p.add_argument("--tiny", action="store_true")
        p.set_defaults(func=func)
    p = sub.add_parser("report", help="print the figures; exit 1 when the loss did not fall")
    p.add_argument("figures", type=Path)
    p.add_argument("--min-drop", type=float, default=MIN_DROP)
    p.set_defaults(func=report)
    sub.add_parser("gpus", help="print how many GPUs torch sees").set_defaults(func=gpus)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
