"""Train several model configs at one equal budget and write their benchmark accuracy as a Markdown table.

One script serves every comparison the project reports — the S-GTR ablation rows (issue #5, docs/ablation.md) and
each host with and without GTR (issue #6, docs/plugin.md). Every row trains through ``sgtr train`` with the same
overrides (steps, batch, learning rate, data, starting checkpoint, seed) and is scored by ``sgtr evaluate`` under the
36-character protocol on ``--sets`` (any sets, under any name; default: every set under ../shared/data/benchmarks);
only the config differs. Rows listed under ``--seeds-for`` also run the extra seeds (``ROW:N``: the first N). Rows
train without validation (``data.val={}``) unless ``--val-every N`` keeps their configs' validation sets for the
curves; either way they are scored on their last checkpoint, so neither validation nor any benchmark chooses
anything. ``--pairs A:B`` adds the paired gaps between rows seed by seed, ``--curves PNG`` plots the runs'
validation curves.

The table has one column per set scored, the mean over distinct sets (one IC13 variant, named in the footer), the
size-weighted mean and the mean 1-NED; with ``--baseline ROW`` each other row also gets its distinct-mean gap to that
row with a paired bootstrap 95 % interval and McNemar's p (``sgtr.evaluation.comparison``, seed by seed). A row's
"spread" is max − min of its distinct mean over its seeds.

``--branches NAME ...`` scores each model with ``sgtr evaluate --branches`` and adds a row ``ROW[NAME]`` per branch,
read from the same forward passes — a plugged host's own reading (``ctc``, ``host``) beside its fused output is the
with/without-GTR pair on identical crops (``--baseline 'ROW[ctc]'``). ``--protocol`` scores under another protocol
than the 36-character one (``94``: case-sensitive with punctuation).

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
import dataclasses
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from sgtr.engine.config import load_config
from sgtr.evaluation.benchmarks import distinct_sets
from sgtr.evaluation.comparison import compare
from sgtr.evaluation.evaluator import Mean, SetResult, mean_over_sets

ROOT = Path(__file__).resolve().parents[1]
SGTR = [sys.executable, "-m", "sgtr.cli.main"]


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
    scores = scores_file(out, args.protocol)
    if scores.is_file():
        return json.loads(scores.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    log = out / "run.log"
    started = time.monotonic()
    run([*SGTR, "train", config, *row_overrides(row, seed, out, args), "--resume", "auto"], log)
    run([*SGTR, "evaluate", str(out / "checkpoints" / "last.ckpt"), *args.sets, "--protocol", args.protocol,
         *(["--branches"] if args.branches else []), "--json", str(scores)], log)
    result = json.loads(scores.read_text(encoding="utf-8"))
    result["train_minutes"] = (time.monotonic() - started) / 60
    scores.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def seeds_per_row(items: list[str], seeds: int, parser: argparse.ArgumentParser) -> dict[str, int]:
    """``--seeds-for`` as {row: how many of the seeds it runs}: ``ROW`` all of them, ``ROW:N`` the first N."""
    counts = {}
    for item in items:
        row, _, count = item.partition(":")
        if count and not (count.isdigit() and 1 <= int(count) <= seeds):
            parser.error(f"--seeds-for {item}: N must be a whole number from 1 to the {seeds} seeds given")
        counts[row] = int(count) if count else seeds
    return counts


def row_overrides(row: str, seed: int, out: Path, args: argparse.Namespace) -> list[str]:
    """The ``sgtr train`` overrides every row gets (only the config differs between rows)."""
    # Without --val-every a row trains blind (no validation set at all); with it, the row validates on its config's
    # sets for the curves. Either way its last checkpoint is the one scored, so validation chooses nothing here.
    validation = [f"trainer.val_every={args.val_every}"] if args.val_every else [
        "data.val={}", f"trainer.val_every={args.steps}"]
    init_from = args.init.get(row, args.init_from)
    return [f"trainer.max_steps={args.steps}", f"trainer.seed={seed}", f"trainer.out={out}",
            f"trainer.threads={args.threads}", f"data.batch_size={args.batch}", f"optim.lr={args.lr}",
            *validation, *args.set, *([f"trainer.init_from={init_from}"] if init_from else [])]


def scores_file(out: Path, protocol: str, branch: str | None = None) -> Path:
    """Where a run's evaluation is kept: ``benchmarks.json`` under the 36-character protocol (as tables before the
    option wrote it), ``benchmarks-P.json`` under protocol P; a branch's beside it as ``….BRANCH.json``."""
    stem = "benchmarks" if protocol == "36" else f"benchmarks-{protocol}"
    return out / (f"{stem}.{branch}.json" if branch else f"{stem}.json")


def branch_rows(rows: dict[str, str], results: dict[tuple[str, int], dict], args: argparse.Namespace
                ) -> tuple[dict[str, str], dict[tuple[str, int], dict]]:
    """Each row followed by one ``ROW[BRANCH]`` row per branch its evaluation wrote, with the branch's results. A
    model without that branch (the VR alone has none) gets no such row, nor does a branch that is the model's final
    output (the same reading of every crop in every seed: ``vr_lm``'s ``lm``) unless ``--baseline`` or ``--pairs``
    name it; a branch no model has stops the table."""
    all_rows, all_results = {}, dict(results)
    found = set()
    for row, config in rows.items():
        all_rows[row] = config
        seeds = seeds_of(results, row)
        for branch in args.branches:
            paths = {seed: scores_file(args.out / f"{row}-seed{seed}", args.protocol, branch) for seed in seeds}
            if not all(path.is_file() for path in paths.values()):
                continue
            found.add(branch)
            loaded = {seed: json.loads(path.read_text(encoding="utf-8")) for seed, path in paths.items()}
            named = f"{row}[{branch}]" in {args.baseline, *(name for pair in args.pairs for name in pair)}
            if not named and all(readings(loaded[seed]) == readings(results[(row, seed)]) for seed in seeds):
                continue
            all_results.update({(f"{row}[{branch}]", seed): result for seed, result in loaded.items()})
            all_rows[f"{row}[{branch}]"] = f"{config} [{branch}]"
    missing = [b for b in args.branches if b not in found]
    if missing:
        sys.exit(f"no model in the table has the branch(es) {', '.join(missing)} (see sgtr evaluate --branches)")
    return all_rows, all_results


def seeds_of(results: dict[tuple[str, int], dict], row: str) -> list[int]:
    """The seeds a row has results for, in order."""
    return sorted(seed for (name, seed) in results if name == row)


def readings(result: dict) -> dict[tuple[str, str], str]:
    """(set, sample key) → the text read, for every sample of an evaluation."""
    return {(s["name"], x["key"]): x["prediction"] for s in result["sets"] for x in s.get("samples", [])}


def accuracy(result: dict) -> dict[str, float]:
    """Set name → word accuracy in percent, for every set the evaluation scored."""
    return {s["name"]: 100 * s["accuracy"] for s in result["sets"] if s["accuracy"] is not None}


def means(result: dict) -> tuple[Mean, Mean, dict[str, str]]:
    """The mean over distinct sets, the size-weighted mean (fractions) and the sets left out, from the per-set
    numbers (so an evaluation JSON written before the distinct means existed reads the same)."""
    sets = [SetResult(**{f.name: s[f.name] for f in dataclasses.fields(SetResult) if f.name in s})
            for s in result["sets"]]
    distinct, left_out = distinct_sets([s.name for s in sets])
    plain, weighted = mean_over_sets([s for s in sets if s.name in distinct])
    return plain, weighted, left_out


def gap(result: dict, baseline: dict) -> str:
    """The distinct-mean gap to the baseline in points, its 95 % interval and McNemar's p, as one cell."""
    try:
        c = compare(result, baseline)
    except ValueError:  # an evaluation JSON without per-sample readings
        return "–"
    return f"{100 * c.mean_gap:+.2f} [{100 * c.mean_low:+.2f}, {100 * c.mean_high:+.2f}] p={c.mean_p_value:.2g}"


def _pct(value: float | None, bold: bool = False) -> str:
    text = "–" if value is None else f"{100 * value:.2f}"
    return f"**{text}**" if bold and value is not None else text


def table(rows: dict[str, str], results: dict[tuple[str, int], dict], baseline: str | None = None) -> str:
    columns = list(dict.fromkeys(name for r in results.values() for name in accuracy(r)))
    extra = [f"Δ vs {baseline} [95 % CI]"] if baseline else []
    header = ["row", "config", "seed", *columns, "distinct mean", "weighted mean", "mean 1-NED", "spread", *extra]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:|" + "---:|" * (len(header) - 3)]
    for row, config in rows.items():
        seeds = seeds_of(results, row)
        distinct = []
        for seed in seeds:
            result = results[(row, seed)]
            acc = accuracy(result)
            plain, weighted, _ = means(result)
            distinct.append(plain.accuracy)
            cells = [f"{acc[c]:.2f}" if c in acc else "–" for c in columns]
            cells += [_pct(plain.accuracy), _pct(weighted.accuracy), _pct(plain.one_minus_ned), ""]
            if baseline:
                first = seeds_of(results, baseline)[0]
                base = results.get((baseline, seed), results[(baseline, first)])  # same seed when it ran
                cells.append("" if row == baseline else gap(result, base))
            lines.append(f"| {row} | `{config}` | {seed} | " + " | ".join(cells) + " |")
        if len(seeds) > 1:
            per_seed = [accuracy(results[(row, seed)]) for seed in seeds]
            set_means = [sum(a[c] for a in per_seed) / len(per_seed) if all(c in a for a in per_seed) else None
                         for c in columns]
            row_means = [means(results[(row, seed)]) for seed in seeds]
            cells = ["–" if m is None else f"**{m:.2f}**" for m in set_means]
            cells += [_pct(sum(m[0].accuracy for m in row_means) / len(seeds), bold=True),
                      _pct(sum(m[1].accuracy for m in row_means) / len(seeds), bold=True),
                      _pct(sum(m[0].one_minus_ned for m in row_means) / len(seeds), bold=True),
                      f"{100 * (max(distinct) - min(distinct)):.2f}"]
            lines.append(f"| {row} | | mean | " + " | ".join(cells + [""] * len(extra)) + " |")
    return "\n".join(lines)


def footer(results: dict[tuple[str, int], dict]) -> str:
    """What the mean columns count."""
    left_out = {}
    for result in results.values():
        left_out.update(means(result)[2])
    text = ("Distinct mean: the mean over distinct sets, each benchmark once; weighted mean: the same sets weighed by "
            "their samples; mean 1-NED: over the distinct sets")
    if left_out:
        text += " (left out: " + ", ".join(f"{n}, as {kept} is counted" for n, kept in left_out.items()) + ")"
    return text + "."


def pair_table(pairs: list[tuple[str, str]], results: dict[tuple[str, int], dict]) -> str:
    """Paired gaps on the distinct-set mean, B − A, seed by seed (same seed: same data order and crops), for each
    ``A:B`` the ordering compares, with the gap of the seed means and whether it exceeds twice the larger seed
    spread (max − min) of the two rows, both over the seeds they share."""
    lines = ["| comparison | seed | Δ distinct mean [95 % CI] | McNemar p |", "|---|---:|---|---:|"]
    for a, b in pairs:
        seeds = [s for s in seeds_of(results, a) if (b, s) in results]
        if not seeds:
            sys.exit(f"--pairs {a}:{b}: no seed ran for both rows")
        for seed in seeds:
            c = compare(results[(b, seed)], results[(a, seed)])
            lines.append(f"| {a} → {b} | {seed} | {100 * c.mean_gap:+.2f} [{100 * c.mean_low:+.2f}, "
                         f"{100 * c.mean_high:+.2f}] | {c.mean_p_value:.2g} |")
        spread = {row: [means(results[(row, s)])[0].accuracy for s in seeds] for row in (a, b)}
        gap = 100 * (sum(spread[b]) - sum(spread[a])) / len(seeds)
        widest = 100 * max(max(v) - min(v) for v in spread.values())
        verdict = f"{'>' if gap > 2 * widest else '≤'} 2 × spread ({2 * widest:.2f})" if len(seeds) > 1 else ""
        lines.append(f"| {a} → {b} | mean | {gap:+.2f} {verdict} | |")
    return "\n".join(lines)


def curve_panels(metrics: dict[tuple[str, int], dict[str, dict]], branches: list[str]) -> list[tuple[str, str]]:
    """(title, metric) of each curve panel: the final output's validation accuracy, then each branch in ``branches``
    that some run logged (``val/branch/NAME/accuracy``; runs trained before the trainer logged branches have none)."""
    keys = [(branch, f"val/branch/{branch}/accuracy") for branch in branches]
    return [("final output", "val/accuracy"), *[(t, k) for t, k in keys if any(k in m for m in metrics.values())]]


def plot_curves(rows: dict[str, str], results: dict[tuple[str, int], dict], out: Path, png: Path,
                branches: list[str]) -> None:
    """Each run's validation accuracy against its step (the runs' CSV logs), one colour per row, one panel for the
    final output and one per branch logged (``curve_panels``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sgtr.engine.curves import read_metrics

    metrics = {(row, seed): read_metrics(out / f"{row}-seed{seed}" / "csv")
               for row in rows for seed in seeds_of(results, row)}
    panels = curve_panels(metrics, branches)
    columns = min(3, len(panels))
    lines = -(-len(panels) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(6 * columns, 4.2 * lines), sharey=True, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, key) in zip(axes.flat, panels):
        for index, row in enumerate(rows):
            labelled = False
            for seed in seeds_of(results, row):
                points = metrics[(row, seed)].get(key, {})
                if points:
                    xs, ys = zip(*sorted(points.items()))
                    ax.plot(xs, [100 * y for y in ys], marker=".", color=f"C{index}", label=None if labelled else row)
                    labelled = True
        ax.set(xlabel="step", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for row in axes:
        row[0].set_ylabel("validation accuracy (%)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


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
    parser.add_argument("--seeds-for", nargs="*", default=[], metavar="ROW[:N]",
                        help="rows that run all --seeds (ROW:N: the first N of them)")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--val-every", type=int, metavar="N",
                        help="validate every N steps on each config's validation sets (curves); default: none")
    parser.add_argument("--init-from", help="checkpoint every row starts from (matching weights are loaded)")
    parser.add_argument("--init", nargs="+", default=[], metavar="ROW=CHECKPOINT",
                        help="a row's own starting checkpoint, instead of --init-from")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override, all rows")
    parser.add_argument("--sets", nargs="*", default=[], metavar="SET_OR_ROOT",
                        help="sets to score on, any names (default: every set under ../shared/data/benchmarks)")
    parser.add_argument("--baseline", metavar="ROW", help="print each row's gap to this row, with its 95 %% interval")
    parser.add_argument("--branches", nargs="+", default=[], metavar="NAME",
                        help="also a row per branch of each model (ROW[NAME]), from the same forward passes")
    parser.add_argument("--protocol", default="36", choices=["36", "62", "94", "raw"],
                        help="scoring protocol (default 36, as in papers)")
    parser.add_argument("--pairs", nargs="+", default=[], metavar="A:B",
                        help="also a table of paired gaps B − A, seed by seed, for these pairs of rows")
    parser.add_argument("--curves", type=Path, metavar="PNG",
                        help="plot every run's validation accuracy against its step (with --val-every), the final "
                             "output's and each --branches one's")
    parser.add_argument("--out", type=Path, help="run folder (default runs/table-NAME)")
    parser.add_argument("--doc", type=Path, help="Markdown file to write the table into")
    args = parser.parse_args()
    args.out = args.out or ROOT / "runs" / f"table-{args.name}"
    rows = dict(item.split("=", 1) for item in args.rows)
    args.init = dict(item.split("=", 1) for item in args.init)
    branch_names = {f"{row}[{b}]" for row in rows for b in args.branches}
    args.pairs = [tuple(item.split(":", 1)) for item in args.pairs]
    seed_counts = seeds_per_row(args.seeds_for, len(args.seeds), parser)
    if any(len(pair) != 2 for pair in args.pairs):
        parser.error("--pairs takes A:B, two row names")
    for option, names, known in (("--pairs", [n for pair in args.pairs for n in pair], set(rows) | branch_names),
                                 ("--seeds-for", seed_counts, set(rows)), ("--init", args.init, set(rows)),
                                 ("--baseline", [args.baseline] if args.baseline else [], set(rows) | branch_names)):
        unknown = sorted(set(names) - known)
        if unknown:
            parser.error(f"{option} names rows that are not in --rows: {', '.join(unknown)}")

    results = {}
    for seed_index, seed in enumerate(args.seeds):
        for row, config in rows.items():
            if seed_index < seed_counts.get(row, 1):
                results[(row, seed)] = train_and_score(row, config, seed, args)
                print(f"{row} seed {seed}: {accuracy(results[(row, seed)])}", flush=True)

    # The engine scales optim.lr by batch / optim.base_batch; say the rate the rows actually peaked at.
    peaks = sorted({args.lr * args.batch / load_config(config, args.set)["optim"]["base_batch"]
                    for config in rows.values()})
    if args.curves:
        plot_curves(rows, results, args.out, args.curves, args.branches)
    rows, results = branch_rows(rows, results, args)
    command = shlex.join(["python", "scripts/train_table.py", *sys.argv[1:]])
    minutes = sum(r.get("train_minutes", 0) for r in results.values())
    what = {"36": "36-character", "62": "62-character (case-sensitive)",
            "94": "94-character (case-sensitive, punctuation)", "raw": "exact (raw protocol)"}[args.protocol]
    paired = f"\n\n{pair_table(args.pairs, results)}" if args.pairs else ""
    text = (f"{table(rows, results, args.baseline)}{paired}\n\n{what} word accuracy (%) per set. {footer(results)} "
            f"Every row: {args.steps} steps at batch {args.batch}, optim.lr {args.lr:g} (peak learning rate "
            f"{' / '.join(f'{peak:g}' for peak in peaks)} after scaling to the batch), same data and seeds"
            + (f", starting from `{args.init_from}`" if args.init_from else "")
            + "".join(f"; {row} from `{path}`" for row, path in args.init.items())
            + f". Made by `{command}` on a {machine()} ({minutes:.0f} min of training and scoring).")
    print(text)
    if args.doc:
        write_doc(args.doc, args.name, text)


if __name__ == "__main__":
    main()
