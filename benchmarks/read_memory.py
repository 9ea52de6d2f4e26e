"""Peak memory of ``sgtr read`` against the number of images read: it should stay flat, since images stream.

Runs ``sgtr read @LIST`` in a child process over lists of N distinct files (symlinks to IIIT5K's 3000 crops, since
``sgtr read`` reads a path listed twice only once) and reports the child's peak RSS. Default model: a fresh VR
``small`` (memory does not depend on training).

    python benchmarks/read_memory.py [--counts 1000 10000] [--model FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CROPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "IIIT5K_3000" / "images"


def fresh_model(folder: Path) -> str:
    from sgtr.data.charset import Charset
    from sgtr.inference.spec import ModelSpec
    from sgtr.inference.weights import write_weights
    from sgtr.models.factory import build_model

    spec = ModelSpec("vr", Charset.from_spec("36"), (32, 128), "small", {})
    return str(write_weights(build_model("vr", spec.charset, preset="small"), spec, folder / "model.safetensors"))


def peak_rss_of_read(model: str, list_file: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one ``sgtr read`` run, measured with wait4's resource usage."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sgtr.cli.main", "read", f"@{list_file}", "--model", model,
                             "--format", "jsonl", "--workers", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("sgtr read failed")
    return usage.ru_maxrss / 1e3, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--model")
    args = parser.parse_args()
    crops = sorted(CROPS.glob("*.jpg"))
    if not crops:
        raise SystemExit(f"{CROPS}: no crops to read")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or fresh_model(Path(tmp))
        print(f"`sgtr read` peak memory, model {Path(model).name}; {os.cpu_count()}-core CPU, no GPU.\n")
        print("| images | peak RSS of the reading process (MB) | seconds |")
        print("|---:|---:|---:|")
        for count in args.counts:
            links = Path(tmp) / f"links{count}"
            links.mkdir()
            for i in range(count):
                (links / f"{i}.jpg").symlink_to(crops[i % len(crops)])
            list_file = Path(tmp) / f"list{count}.txt"
            list_file.write_text("".join(f"{links / f'{i}.jpg'}\n" for i in range(count)))
            peak, seconds = peak_rss_of_read(model, list_file)
            print(f"| {count} | {peak:.0f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
