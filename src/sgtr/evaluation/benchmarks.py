"""Which benchmark a set is, whatever its folder is called, and which sets a mean may count without counting twice.

Sets are found by their folders, never from a list: any set can be scored. What this module knows is identity. The
same benchmark goes by our folder names (``IIIT5K_3000``, ``SVT_647``, ``SVTP_645``) and by the names of the public
LMDB bundles (``IIIT5k_3000``, ``SVT``, ``SVTP``, ``CUTE80``); both spell the same ``canonical`` name. Two pairs are
one test set in two variants, the smaller a filtered subset of the larger: IC13_857 of IC13_1015 and IC15_1811 of
IC15_2077. A mean over both variants counts the shared images twice, so ``distinct_sets`` keeps one set per
benchmark: the larger variant when both are there (it is the one a filter did not choose, and it holds the other).
A set this module does not know is its own benchmark.
"""

from __future__ import annotations

from pathlib import Path

# Lower-cased folder names → canonical name, for the names the same test set is published under.
ALIASES = {
    "iiit5k_3000": "IIIT5K_3000", "iiit5k": "IIIT5K_3000",
    "svt_647": "SVT_647", "svt": "SVT_647",
    "ic13_857": "IC13_857", "ic13_1015": "IC13_1015",
    "ic15_1811": "IC15_1811", "ic15_2077": "IC15_2077",
    "svtp_645": "SVTP_645", "svtp": "SVTP_645",
    "cute80_288": "CUTE80_288", "cute80": "CUTE80_288",
}
# Canonical name → (benchmark, rank): variants of one benchmark share it, and the lowest rank is the one kept.
VARIANTS = {
    "IC13_1015": ("IC13", 0), "IC13_857": ("IC13", 1),
    "IC15_2077": ("IC15", 0), "IC15_1811": ("IC15", 1),
}
# Where the shared test sets sit next to a checkout of this repository.
DEFAULT_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "benchmarks"


def canonical(name: str) -> str:
    """The benchmark's canonical name for a set name (its last path part), or the name itself if it is not known."""
    last = Path(name).name
    return ALIASES.get(last.lower(), last)


def distinct_sets(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The names a mean should count, in their order, and for each name left out the name counted in its place."""
    kept: dict[str, tuple[int, str]] = {}  # benchmark → (rank, name)
    for name in names:
        benchmark, rank = VARIANTS.get(canonical(name), (canonical(name), 0))
        if benchmark not in kept or rank < kept[benchmark][0]:
            kept[benchmark] = (rank, name)
    chosen = {name for _, name in kept.values()}
    left_out = {}
    for name in names:
        if name not in chosen:
            benchmark = VARIANTS.get(canonical(name), (canonical(name), 0))[0]
            left_out[name] = kept[benchmark][1]
    return [n for n in names if n in chosen], left_out
