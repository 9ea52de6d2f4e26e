"""Train several model configs at one equal budget and write their benchmark accuracy as a Markdown table.

One script serves every comparison the project reports — the S-GTR ablation rows (issue #5, docs/ablation.md) and
each host with and without GTR (issue #6, docs/plugin.md). Every row trains through ``sgtr train`` with the same
overrides (steps, batch, learning rate, data, starting checkpoint, seed) and is scored by ``sgtr evaluate`` under the
36-character protocol; only the config differs. Rows listed under ``--seeds-for`` also run the extra seeds.

Each run resumes (``--resume auto``) and each finished evaluation is kept as JSON, so a killed table continues where
it stopped. ``--init ROW=CHECKPOINT`` gives a row its own starting checkpoint (each host and its +GTR model
continuing from that host's pretraining, for instance). The table replaces the text between ``<!-- table:NAME -->``
and ``<!-- /table:NAME -->`` in ``--doc`` (appended when the markers are missing), under a line that gives the exact
command.

    .venv/bin/python scripts/train_table.py --name ablation --doc docs/ablation.md \\
        --rows vr=configs/vr_small.yaml vr_lm=configs/ablation_vr_lm.yaml ... \\
        --seeds 0 1 --seeds-for vr_lm_gtr sgtr --steps 1500 --init-from runs/default/stage1/checkpoints/best.ckpt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SGTR = [sys.executable, "-m", "sgtr.cli.main"]
SETS = ("IIIT5K_3000", "SVT_647", "IC13_857", "IC13_1015")


def run(command: list[str], log: Path) -> None:
    """Run one step with its output in ``log``; a failure stops the table with the log's last lines."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(command)}\n")
        out.flush()
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if code:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        sys.exit(f"{shlex.join(command)} failed ({code}); last lines of {log}:\n" + "\n".join(tail))


def train_and_score(row: str, config: str, seed: int, args: argparse.Namespace) -> dict:
    """The evaluation JSON of one (row, seed), training and scoring it unless that was done already."""
    out = args.out / f"{row}-seed{seed}"
    scores = out / "benchmarks.json"
    if scores.is_file():
        return json.loads(scores.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    log = out / "run.log"
    overrides = [f"trainer.max_steps={args.steps}", f"trainer.seed={seed}", f"trainer.out={out}",
                 f"trainer.threads={args.threads}", f"data.batch_size={args.batch}", "data.val={}",
                 f"optim.lr={args.lr}", f"trainer.val_every={args.steps}", *args.set]
    init_from = args.init.get(row, args.init_from)
    if init_from:
        overrides.append(f"trainer.init_from={init_from}")
    started = time.monotonic()
    run([*SGTR, "train", config, *overrides, "--resume", "auto"], log)
    run([*SGTR, "evaluate", str(out / "checkpoints" / "last.ckpt"), str(args.benchmarks), "--json", str(scores)], log)
    result = json.loads(scores.read_text(encoding="utf-8"))
    result["train_minutes"] = (time.monotonic() - started) / 60
    scores.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def accuracy(result: dict) -> dict[str, float]:
    """Set name → 36-character word accuracy in percent, for the four standard sets."""
    found = {s["name"]: 100 * s["accuracy"] for s in result["sets"]}
    return {name: found[name] for name in SETS if name in found}


def character_score(result: dict) -> float:
    """Mean over the four sets of 1 − normalised edit distance, in percent: it shows what a model has learnt while
    its word accuracy is still near zero."""
    found = [100 * s["one_minus_ned"] for s in result["sets"] if s["name"] in SETS]
    return sum(found) / max(1, len(found))


def table(rows: dict[str, str], results: dict[tuple[str, int], dict]) -> str:
    lines = ["| row | config | seed | " + " | ".join(SETS) + " | mean | mean 1-NED |",
             "|---|---|---:|" + "---:|" * (len(SETS) + 2)]
    for row, config in rows.items():
        seeds = sorted(seed for (name, seed) in results if name == row)
        per_seed = [accuracy(results[(row, seed)]) for seed in seeds]
        ned = [character_score(results[(row, seed)]) for seed in seeds]
        for seed, acc, n in zip(seeds, per_seed, ned):
            cells = [f"{acc[s]:.2f}" if s in acc else "–" for s in SETS]
            lines.append(f"| {row} | `{config}` | {seed} | " + " | ".join(cells) + f" | {_mean(acc):.2f} | {n:.2f} |")
        if len(seeds) > 1:
            means = {s: sum(a[s] for a in per_seed) / len(per_seed) for s in SETS if all(s in a for a in per_seed)}
            cells = [f"**{means[s]:.2f}**" if s in means else "–" for s in SETS]
            lines.append(f"| {row} | | mean | " + " | ".join(cells)
                         + f" | **{_mean(means):.2f}** | **{sum(ned) / len(ned):.2f}** |")
    return "\n".join(lines)


def _mean(acc: dict[str, float]) -> float:
    return sum(acc.values()) / max(1, len(acc))


def write_doc(doc: Path, name: str, text: str) -> None:
    begin, end = f"<!-- table:{name} -->", f"<!-- /table:{name} -->"
    block = f"{begin}\n{text}\n{end}"
    old = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + ("\n\n" if old else "") + block
    doc.write_text(new.rstrip() + "\n", encoding="utf-8")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    return f"{os.cpu_count()}-core CPU ({cpu}), no GPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="table name, used for the doc markers and the run folder")
    parser.add_argument("--rows", nargs="+", required=True, metavar="ROW=CONFIG")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="every row runs the first seed")
    parser.add_argument("--seeds-for", nargs="*", default=[], metavar="ROW", help="rows that run all --seeds")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--init-from", help="checkpoint every row starts from (matching weights are loaded)")
    parser.add_argument("--init", nargs="+", default=[], metavar="ROW=CHECKPOINT",
                        help="a row's own starting checkpoint, instead of --init-from")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override, all rows")
    parser.add_argument("--benchmarks", type=Path, default=ROOT.parent / "shared" / "data" / "benchmarks")
    parser.add_argument("--out", type=Path, help="run folder (default runs/table-NAME)")
    parser.add_argument("--doc", type=Path, help="Markdown file to write the table into")
    args = parser.parse_args()
    args.out = args.out or ROOT / "runs" / f"table-{args.name}"
    rows = dict(item.split("=", 1) for item in args.rows)
    args.init = dict(item.split("=", 1) for item in args.init)
    for option, names in (("--seeds-for", args.seeds_for), ("--init", args.init)):
        unknown = sorted(set(names) - set(rows))
        if unknown:
            parser.error(f"{option} names rows that are not in --rows: {', '.join(unknown)}")

    results = {}
    for seed_index, seed in enumerate(args.seeds):
        for row, config in rows.items():
            if seed_index == 0 or row in args.seeds_for:
                results[(row, seed)] = train_and_score(row, config, seed, args)
                print(f"{row} seed {seed}: {accuracy(results[(row, seed)])}", flush=True)

    command = shlex.join(["python", "scripts/train_table.py", *sys.argv[1:]])
    minutes = sum(r.get("train_minutes", 0) for r in results.values())
    text = (f"{table(rows, results)}\n\n36-character word accuracy (%) per set, their mean, and the mean over the "
            f"sets of 1 − normalised edit distance (%). Every row: {args.steps} steps at batch {args.batch}, "
            f"lr {args.lr:g}, same data and seeds"
            + (f", starting from `{args.init_from}`" if args.init_from else "")
            + "".join(f"; {row} from `{path}`" for row, path in args.init.items())
            + f". Made by `{command}` on a {machine()} ({minutes:.0f} min of training and scoring).")
    print(text)
    if args.doc:
        write_doc(args.doc, args.name, text)


if __name__ == "__main__":
    main()
