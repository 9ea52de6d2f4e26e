"""``sgtr serve`` under load on loopback, through ``benchmarks/serve_load.py``: every good crop read right, every
hostile upload refused with a 4xx naming its problem, and resident memory flat from the warm-up to the end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="sgtr serve needs sgtr[serve]")
pytest.importorskip("uvicorn", reason="sgtr serve needs sgtr[serve]")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from serve_load import HOSTILE_KINDS, Server, run_load  # noqa: E402

# Allowed growth of the server's RSS between the warm-up and the end: allocator noise, not a per-request leak.
RSS_GROWTH_MB = 50  # MiB
# What each hostile upload's error must name.
PROBLEMS = {"not-an-image": "not an image", "truncated": "corrupt or truncated", "empty-form": "no images",
            "oversized": "byte limit per file", "bomb": "decompression bomb"}


@pytest.fixture(scope="module")
def report():
    with Server(threads=1) as server:
        yield run_load(server, requests=60, concurrency=4, warmup=20)


@pytest.mark.slow
def test_every_good_request_under_load_is_read_right(report):
    assert len(report.outcomes) - len(report.hostile) == 48
    assert not report.good_failures, [o.detail for o in report.good_failures]


@pytest.mark.slow
def test_every_hostile_upload_under_load_is_a_4xx_naming_its_problem(report):
    assert sorted({o.kind for o in report.hostile}) == sorted(HOSTILE_KINDS)
    for outcome in report.hostile:
        assert 400 <= outcome.status < 500, (outcome.kind, outcome.status, outcome.detail)
        assert PROBLEMS[outcome.kind] in outcome.detail, (outcome.kind, outcome.detail)


@pytest.mark.slow
def test_server_memory_stays_flat_from_warm_up_to_the_end(report):
    assert report.rss_after_warmup_mb > 0
    assert report.rss_end_mb - report.rss_after_warmup_mb < RSS_GROWTH_MB
