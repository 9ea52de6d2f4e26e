"""Reading speed of a recognizer: images/s at batch 1 and 32, PyTorch against ONNX Runtime, with peak memory.

Each (runtime, batch) cell runs in a fresh process, so its peak RSS (``resource.getrusage``'s ``ru_maxrss``) belongs
to that cell alone; it includes importing torch, whose transient peak (~340 MB) can exceed the reading's own. "model
RSS" is the RSS after the timed rounds minus the RSS before the model was loaded: model, runtime and their buffers.
A cell times ``Recognizer.predict`` over already-decoded PIL images — the resize to the input size, the forward pass
and the decoder, not the file decoding — and reports the fastest and the median of the timed rounds: on a shared
CPU the fastest is the least disturbed. ``--model vr`` (the default) and ``--model sgtr`` time a fresh, untrained
``small`` model at 32×128 (speed does not depend on the weights); ``--model`` also takes a .ckpt or .safetensors,
whose ONNX export is made on the fly. ``--threads 0`` is the library's default (``default_threads()``); ``--busy 0 1``
times each cell alone and again beside one other process spinning on a core, as when another job shares the CPU.

    .venv/bin/python benchmarks/read_speed.py                         # 1 thread, batches 1 and 32
    .venv/bin/python benchmarks/read_speed.py --threads 0 1 2 --busy 0 1 --batches 32 --rounds 8   # contention
    .venv/bin/python benchmarks/read_speed.py --model sgtr --threads 2 --int8   # the S-GTR speed target (#7)
    .venv/bin/python benchmarks/read_speed.py --threads 2 --note "idle machine"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROPS = ROOT.parent / "shared" / "data" / "benchmarks" / "IIIT5K_3000" / "images"


def rss_mb() -> float:
    """Current resident set size, from /proc (Linux), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def images(n: int):
    """``n`` real word crops when the shared data is present, else random-noise images of word-crop sizes."""
    import numpy as np
    from PIL import Image

    if CROPS.is_dir():
        return [Image.open(CROPS / f"{i % 3000 + 1}.jpg").convert("RGB") for i in range(n)]
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (int(rng.integers(24, 64)), int(rng.integers(60, 240)), 3),
                                         dtype=np.uint8)) for _ in range(n)]


RAPIDOCR = "rapidocr-3.10"  # the peer: not a file, RapidOCR's own pipeline
FRESH = {"vr": "VR", "sgtr": "S-GTR"}  # untrained `small` models: speed does not depend on the weights


class RapidOcrPipeline:
    """RapidOCR 3.10's own recognition pipeline (PP-OCRv6-small, ONNX Runtime), one crop per call as
    ``sgtr evaluate --engine rapidocr`` runs it, with its ONNX Runtime threads set like sgtr's."""

    def __init__(self, threads: int):
        from rapidocr import ModelType, OCRVersion, RapidOCR

        self.engine = RapidOCR(params={"Global.use_det": False, "Global.use_cls": False, "Global.log_level": "critical",
                                       "Rec.ocr_version": OCRVersion.PPOCRV6, "Rec.model_type": ModelType.SMALL,
                                       "EngineConfig.onnxruntime.intra_op_num_threads": threads or 1})

    def predict(self, data):
        return [self.engine(image, use_det=False, use_cls=False, use_rec=True) for image in data]


def one_cell(model: str, batch: int, threads: int, rounds: int) -> dict:
    """Run in a child process: time one runtime at one batch size (the recognizer sets its own threads)."""
    from sgtr.inference.predictor import Recognizer

    data = images(batch)
    before = rss_mb()
    recognizer = (RapidOcrPipeline(threads) if model == RAPIDOCR else
                  Recognizer(model, device="cpu", batch_size=batch, threads=threads or None))
    recognizer.predict(data)  # warm-up: first-call allocations and ONNX Runtime's graph preparation
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        recognizer.predict(data)
        seconds.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    return {"best": batch / min(seconds), "median": batch / statistics.median(seconds), "peak_mb": peak,
            "model_mb": rss_mb() - before}


def prepare_models(model: str, folder: Path, int8: bool) -> tuple[str, dict[str, str]]:
    """The model's name and its file per runtime: weights (or the given checkpoint) for torch, an export for onnx
    (and, with ``int8``, its int8 quantisation calibrated on the bundled samples)."""
    from sgtr.data.charset import Charset
    from sgtr.inference.loading import load_model
    from sgtr.inference.onnx_export import export_onnx
    from sgtr.inference.spec import ModelSpec
    from sgtr.inference.weights import write_weights
    from sgtr.models.factory import build_model

    if model in FRESH:
        spec = ModelSpec(model, Charset.from_spec("36"), (32, 128), "small", {})
        net = build_model(model, spec.charset, preset="small")
        torch_file = str(write_weights(net, spec, folder / "model.safetensors"))
        name = f"{FRESH[model]} small, untrained"
    else:
        spec, net = load_model(model)
        torch_file, name = model, Path(model).name
    export_onnx(net, spec, folder / "model.onnx")
    files = {"PyTorch": torch_file, "ONNX Runtime": str(folder / "model.onnx")}
    if int8:
        import numpy as np

        from sgtr.inference.preprocess import Preprocessor
        from sgtr.inference.quantize import quantize_onnx

        prepare = Preprocessor(spec.input_size, keep_ratio=spec.keep_ratio, resample=spec.resample)
        calibration = [prepare(p).arrays for p in sorted((ROOT / "samples").glob("*.png"))]
        files["ONNX Runtime int8"] = str(quantize_onnx(folder / "model.onnx", folder / "int8.onnx",
                                                       np.concatenate(calibration)))
    params = sum(p.numel() for p in net.parameters()) / 1e6
    h, w = spec.input_size
    return f"{name} ({params:.1f}M parameters, {h}×{w}, charset {spec.charset.name})", files


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()}-core CPU dev machine ({cpu}), no GPU used"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vr",
                        help="a .ckpt or .safetensors model, or 'vr' / 'sgtr' for an untrained small one (default: vr)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="torch and ONNX Runtime intra-op threads; 0: the library's default (default: 1)")
    parser.add_argument("--busy", type=int, nargs="+", default=[0],
                        help="other processes spinning on a core while a cell is timed (default: 0)")
    parser.add_argument("--rounds", type=int, default=0, help="timed rounds per cell (default: ~64 images' worth)")
    parser.add_argument("--int8", action="store_true", help="add ONNX Runtime on the int8-quantised graph")
    parser.add_argument("--rapidocr", action="store_true",
                        help="add RapidOCR 3.10's own pipeline reading the same crops (the peer to compare against)")
    parser.add_argument("--note", default="", help="a line about the conditions, printed under the table")
    parser.add_argument("--cell", nargs=2, metavar=("FILE", "BATCH"), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(one_cell(args.cell[0], int(args.cell[1]), args.threads[0], args.rounds)))
        return

    from sgtr.inference.runtimes import default_threads

    with tempfile.TemporaryDirectory() as tmp:
        name, files = prepare_models(args.model, Path(tmp), args.int8)
        if args.rapidocr:
            files["RapidOCR 3.10 (its pipeline)"] = RAPIDOCR
        rows = []
        for batch, threads, busy in itertools.product(args.batches, args.threads, args.busy):
            rounds = args.rounds or max(5, 64 // batch)
            for runtime, file in files.items():
                spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
                try:
                    result = subprocess.run([sys.executable, __file__, "--cell", file, str(batch), "--threads",
                                             str(threads), "--rounds", str(rounds)],
                                            capture_output=True, text=True, check=True)
                finally:
                    for spinner in spinners:
                        spinner.kill()
                        spinner.wait()
                cell = json.loads(result.stdout.strip().splitlines()[-1])
                shown = f"{default_threads()} (default)" if threads == 0 else str(threads)
                rows.append(f"| {runtime} | {batch} | {shown} | {busy} | {cell['best']:.1f} | {cell['median']:.1f} | "
                            f"{cell['peak_mb']:.0f} | {cell['model_mb']:.0f} |")
    print(f"Reading speed of {name}; {machine()}.\n")
    print("| runtime | batch | threads | busy processes beside | images/s (best) | images/s (median) | "
          "peak RSS (MB) | model RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if args.note:
        print(f"\n{args.note}")


if __name__ == "__main__":
    main()
