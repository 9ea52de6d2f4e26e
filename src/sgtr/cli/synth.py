"""``sgtr synth``: render synthetic word images with per-character masks into an LMDB shard (see ``sgtr.synth``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sgtr.cli.errors import CommandError

# Fewer faces than this means the font packages are not installed.
FEW_FACES = 1000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth", help="render synthetic word images with character masks into LMDB",
        description="Render synthetic word crops with labels, per-character instance masks and boxes into an LMDB "
                    "in the standard layout. Rerunning over an interrupted (or smaller) output continues it.")
    p.add_argument("--out", required=True, type=Path, help="LMDB folder (with --shard i/n: its parent)")
    p.add_argument("--count", required=True, type=int, help="samples in the whole job (all shards)")
    p.add_argument("--seed", type=int, default=0, help="sample i is drawn from (seed, i)")
    p.add_argument("--charset", default="94", help="preset 36, 62 or 94, or a file with one symbol per line")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="render samples I, I+N, I+2N, ... into OUT/shard-I-of-N (default 0/1: all, into OUT)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rendering processes (default: all cores)")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=128, help="output width; with --keep-ratio the largest width")
    p.add_argument("--keep-ratio", action="store_true",
                   help="each crop as wide as its word at --height (ceil(height x aspect)), up to --width")
    p.add_argument("--fonts", action="append", default=[], metavar="DIR", help="more font folders (repeatable)")
    p.add_argument("--no-system-fonts", action="store_true", help="use only the --fonts folders")
    p.add_argument("--backgrounds", action="append", default=[], metavar="DIR",
                   help="folder of natural images to crop backgrounds from (repeatable), besides the installed "
                        "wallpaper packages' photographs")
    p.add_argument("--no-system-backgrounds", action="store_true",
                   help="do not use the wallpaper packages' photographs")
    p.add_argument("--manifest", type=Path, metavar="FILE",
                   help="draw from exactly the fonts and backgrounds of an earlier run's manifest.json, found here "
                        "by hash (says which this machine lacks)")
    p.add_argument("--words", metavar="FILE", help="word list, one per line (default: wordfreq English + "
                                                   "/usr/share/dict/words)")
    p.add_argument("--text-mix", metavar="KIND=W,...",
                   help="weights of real words, random strings and number-like strings "
                        "(default word=0.6,random=0.25,number=0.15)")
    p.add_argument("--image-format", choices=("jpg", "png"), default="jpg",
                   help="jpg: quality 95, no chroma subsampling (default); png: lossless, about twice the size")
    p.add_argument("--preview", type=int, default=0, metavar="N",
                   help="also write preview.png into the LMDB folder: its first N samples, masks in colour")
    p.set_defaults(func=run)


def _parse_shard(spec: str) -> tuple[int, int]:
    try:
        i, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise CommandError(f"--shard {spec!r}: expected I/N, e.g. 0/8") from None
    if n < 1 or not 0 <= i < n:
        raise CommandError(f"--shard {spec!r}: need N >= 1 and 0 <= I < N")
    return i, n


def _by_reason(skips) -> str:
    """'3 unreadable font, 1 ...' for a SkipLog, or 'none'."""
    return ", ".join(f"{n} {reason}" for reason, n in skips.by_reason().most_common()) or "none"


def _from_manifest(path: Path, options: dict) -> dict:
    """Font and background files of a manifest found on this machine, in its order; says what is missing."""
    from sgtr.synth.backgrounds import find_images, system_backgrounds
    from sgtr.synth.fonts import find_font_files
    from sgtr.synth.manifest import ManifestError, read_manifest, resolve

    try:
        manifest = read_manifest(path)
    except ManifestError as exc:
        raise CommandError(str(exc)) from None
    images = find_images(options["background_dirs"])
    if options["system_backgrounds"]:
        images += system_backgrounds()[0]
    fonts = resolve(manifest["fonts"], find_font_files(options["font_dirs"]))
    backgrounds = resolve(manifest["backgrounds"], images)
    for kind, found in (("fonts", fonts), ("backgrounds", backgrounds)):
        total = len(found.files) + len(found.missing)
        if found.missing:
            names = ", ".join(Path(e.get("path", "?")).name for e in found.missing[:5])
            print(f"manifest {path}: this machine lacks {len(found.missing)} of its {total} {kind} ({names}"
                  f"{', ...' if len(found.missing) > 5 else ''}); samples will differ from that run's")
        else:
            print(f"manifest {path}: all {total} {kind} found")
    if not fonts.files:
        raise CommandError(f"manifest {path}: none of its fonts is on this machine")
    return {"font_dirs": tuple(fonts.files), "background_dirs": tuple(backgrounds.files), "system_backgrounds": False}


def run(args: argparse.Namespace) -> int:
    import lmdb

    from sgtr.data.charset import Charset
    from sgtr.data.skips import SkipLog
    from sgtr.synth.backgrounds import system_backgrounds
    from sgtr.synth.config import SynthConfig
    from sgtr.synth.fonts import SYSTEM_FONT_DIRS
    from sgtr.synth.manifest import make_manifest, write_manifest
    from sgtr.synth.render import SynthError, SynthGenerator
    from sgtr.synth.text import TextError, parse_mix
    from sgtr.synth.writer import write_shard

    shard, num_shards = _parse_shard(args.shard)
    if args.count < 0 or args.preview < 0:
        raise CommandError("--count and --preview must be at least 0")
    if min(args.height, args.width, args.workers) < 1:
        raise CommandError("--height, --width and --workers must be positive")
    if args.no_system_fonts and not args.fonts:
        raise CommandError("--no-system-fonts needs at least one --fonts DIR")
    for folder in args.fonts + args.backgrounds:
        if not Path(folder).exists():
            raise CommandError(f"{folder}: no such file or folder")
    options = {"seed": args.seed, "height": args.height, "width": args.width, "keep_ratio": args.keep_ratio,
               "words_file": args.words,
               "font_dirs": tuple(args.fonts) if args.no_system_fonts else (*SYSTEM_FONT_DIRS, *args.fonts),
               "background_dirs": tuple(args.backgrounds), "system_backgrounds": not args.no_system_backgrounds}
    if args.manifest:
        options.update(_from_manifest(args.manifest, options))
    try:
        if args.text_mix:
            options["text_mix"] = parse_mix(args.text_mix)
        generator = SynthGenerator.build(SynthConfig(Charset.from_spec(args.charset), **options))
    except (ValueError, TextError, SynthError) as exc:
        raise CommandError(str(exc)) from None

    fonts = generator.fonts
    font_skips = SkipLog(quiet=not args.verbose)
    font_skips.extend(fonts.skips)
    print(f"fonts: {len(fonts)} faces in {fonts.num_families} families (left out: {_by_reason(font_skips)})")
    if len(fonts) < FEW_FACES and not args.manifest:
        print(f"  only {len(fonts)} faces: scripts/setup-system.sh installs the Debian font packages (about 1,700)")
    print(f"texts: {len(generator.texts.words)} words; backgrounds: {len(generator.backgrounds.files)} images")
    if generator.config.system_backgrounds:
        lacking = system_backgrounds()[1]
        if lacking:
            print(f"  not installed: {', '.join(lacking)} (scripts/setup-system.sh installs them)")

    out = args.out
    if num_shards > 1:
        width = len(str(num_shards - 1))
        out = out / f"shard-{shard:0{width}d}-of-{num_shards}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_manifest(make_manifest(fonts.paths, fonts.families, generator.backgrounds.files,
                                     generator.config.describe()), out)
        report = write_shard(generator, out, args.count, shard=shard, num_shards=num_shards, workers=args.workers,
                             image_format=args.image_format)
    except SynthError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except lmdb.Error as exc:
        raise CommandError(f"{out}: LMDB error ({exc})") from None
    except KeyboardInterrupt:
        print(f"interrupted: {out} is incomplete (no completion marker); run the same command again to continue")
        raise

    skips = SkipLog()
    skips.extend(report.skips)
    if report.written == 0:
        print(f"{out}: already complete with {report.total} samples")
    else:
        rate = report.written / max(report.seconds, 1e-9)
        print(f"{out}: wrote {report.written} samples ({report.total} in the shard) in {report.seconds:.1f} s, "
              f"{rate:.0f} images/s (workers={args.workers}), {report.bytes_written / report.written:.0f} bytes/sample")
    for reason, n in sorted(report.stats.items()):
        print(f"  {reason}: {n}")
    if skips:
        print(f"  inputs skipped: {_by_reason(skips)}")

    if args.preview:
        from sgtr.synth.preview import contact_sheet, read_samples

        shown = read_samples(out, args.preview)
        if shown:
            print(f"preview: {contact_sheet(shown, out / 'preview.png')}")
    return 0
