"""The evaluation loop: named sets, one prediction source, one protocol, and per-set and averaged results.

Each set is read in batches through a ``DataLoader`` whose collate keeps the ``Sample | Skip`` items as a list.
Unreadable samples go to the ``SkipLog`` (named once, counted per set); samples whose label is empty after the
protocol's cleaning are counted apart and not sent to the source; samples the source has no prediction for are scored
as the empty string and counted as missing. Only the ``predict`` calls are timed, so images/s measures the recognizer,
not the image decoding. Every scored sample's reading is kept (``SampleResult``), so two sources can be compared sample
by sample. The means count each benchmark once (``sgtr.evaluation.benchmarks.distinct_sets``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Mapping, TextIO

from torch.utils.data import DataLoader, Dataset, Subset

from sgtr.data.sample import Sample
from sgtr.data.skips import Skip, SkipLog
from sgtr.evaluation.benchmarks import distinct_sets
from sgtr.evaluation.labels_only import labels_only
from sgtr.evaluation.metrics import Tally
from sgtr.evaluation.protocols import Protocol
from sgtr.evaluation.sources import PredictionSource, needs_images
from sgtr.progress import bar

log = logging.getLogger("sgtr.evaluation")

PROGRESS_EVERY_S = 30.0  # without a progress bar (stderr not a terminal), say how far a long set got now and then


@dataclass
class SampleResult:
    """One scored sample: its key, raw label and reading ("" when the source had none), and whether it is right."""

    key: str
    label: str
    prediction: str
    confidence: float | None
    correct: bool


@dataclass
class SetResult:
    """One set's numbers. Rates are fractions in [0, 1]; None where nothing was scored or measured."""

    name: str
    scored: int
    correct: int
    skipped_bad: int
    skipped_empty: int
    missing: int
    accuracy: float | None
    one_minus_ned: float | None
    mean_confidence: float | None
    images_per_second: float | None
    samples: list[SampleResult] = field(default_factory=list)


@dataclass
class Mean:
    accuracy: float | None
    one_minus_ned: float | None


@dataclass
class EvaluationResult:
    source: str
    protocol: str
    sets: list[SetResult]
    distinct: list[str]  # the sets the means count: one per benchmark
    left_out: dict[str, str]  # set not counted → the variant of the same benchmark counted instead
    distinct_mean: Mean  # every distinct set counts the same
    weighted_mean: Mean  # every sample of the distinct sets counts the same
    skipped: list[str] = field(default_factory=list)  # "key: reason" of each unreadable sample, once


def mean_over_sets(sets: list[SetResult]) -> tuple[Mean, Mean]:
    """Plain and size-weighted means of accuracy and 1-NED over the sets that scored at least one sample."""
    scored = [s for s in sets if s.scored]
    if not scored:
        return Mean(None, None), Mean(None, None)
    total = sum(s.scored for s in scored)
    plain = Mean(sum(s.accuracy for s in scored) / len(scored),  # type: ignore[misc]
                 sum(s.one_minus_ned for s in scored) / len(scored))  # type: ignore[misc]
    weighted = Mean(sum(s.correct for s in scored) / total,
                    sum(s.one_minus_ned * s.scored for s in scored) / total)  # type: ignore[operator]
    return plain, weighted


def _as_list(items: list[Sample | Skip]) -> list[Sample | Skip]:
    return items


def evaluate_set(name: str, dataset: Dataset, source: PredictionSource, protocol: Protocol, *,
                 batch_size: int = 64, workers: int = 0, limit: int | None = None,
                 skips: SkipLog | None = None, errors: TextIO | None = None) -> SetResult:
    """Score one set. ``limit`` keeps the first N items; ``errors`` receives one JSON line per wrong prediction."""
    skips = skips if skips is not None else SkipLog()
    with_images = needs_images(source)
    bad = 0
    for skip in getattr(dataset, "list_skips", ()):  # malformed lines of a label list
        skips.add(skip)
        bad += 1
    if not with_images:
        dataset = labels_only(dataset)
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_as_list)

    tally = Tally()
    scored: list[SampleResult] = []
    empty = missing = predicted = 0
    seconds = 0.0
    first_missing = ""
    done = 0
    last_progress = time.monotonic()
    progress = bar(total=len(dataset), desc=name, unit="sample")
    for batch in loader:
        done += len(batch)
        progress.update(len(batch))
        if progress.disable and time.monotonic() - last_progress > PROGRESS_EVERY_S:  # a log file gets a line
            log.info("%s: %d of %d samples", name, done, len(dataset))
            last_progress = time.monotonic()
        samples, labels = [], []
        for item in batch:
            if isinstance(item, Skip):
                skips.add(item)
                bad += 1
                continue
            label = protocol.clean(item.label)
            if not label:
                log.debug("%s: %s: label %r is empty under protocol %s", name, item.key, item.label, protocol.name)
                empty += 1
                continue
            samples.append(item)
            labels.append(label)
        if not samples:
            continue
        start = time.perf_counter()
        predictions = source.predict(samples)
        seconds += time.perf_counter() - start
        predicted += len(samples)
        if len(predictions) != len(samples):
            raise RuntimeError(f"{source.name} returned {len(predictions)} predictions for {len(samples)} samples")
        for sample, label, prediction in zip(samples, labels, predictions):
            is_missing = prediction is None
            if is_missing:
                missing += 1
                first_missing = first_missing or sample.key
            text, confidence = prediction or ("", None)
            cleaned = protocol.clean(text)
            right = tally.add(cleaned, label, confidence)
            scored.append(SampleResult(sample.key, sample.label, text, confidence, right))
            if not right and errors is not None:
                errors.write(json.dumps({
                    "set": name, "key": sample.key, "label": sample.label, "prediction": text,
                    "label_clean": label, "prediction_clean": cleaned, "confidence": confidence,
                    "missing": is_missing}, ensure_ascii=False) + "\n")
    progress.close()

    if missing:
        log.warning("%s: %d samples have no prediction in %s (first: %s)", name, missing, source.name, first_missing)
    log.info("%s: %d scored, %d unreadable, %d empty under protocol %s",
             name, tally.count, bad, empty, protocol.name)
    return SetResult(
        name=name, scored=tally.count, correct=tally.correct, skipped_bad=bad, skipped_empty=empty, missing=missing,
        accuracy=tally.accuracy, one_minus_ned=tally.one_minus_ned, mean_confidence=tally.mean_confidence,
        images_per_second=predicted / seconds if with_images and seconds > 0 else None, samples=scored)


def evaluate(sets: Mapping[str, Dataset], source: PredictionSource, protocol: Protocol, *,
             batch_size: int = 64, workers: int = 0, limit: int | None = None,
             skips: SkipLog | None = None, errors: TextIO | None = None) -> EvaluationResult:
    """Score every named set with one source under one protocol, then average over the distinct sets."""
    skips = skips if skips is not None else SkipLog()
    results = [evaluate_set(name, dataset, source, protocol, batch_size=batch_size, workers=workers, limit=limit,
                            skips=skips, errors=errors)
               for name, dataset in sets.items()]
    distinct, left_out = distinct_sets([r.name for r in results])
    plain, weighted = mean_over_sets([r for r in results if r.name in distinct])
    return EvaluationResult(source=source.name, protocol=protocol.name, sets=results, distinct=distinct,
                            left_out=left_out, distinct_mean=plain, weighted_mean=weighted,
                            skipped=[str(s) for s in skips.skips])
