"""What a training run shows on the terminal: one progress bar toward ``trainer.max_steps``, and Lightning's chatter
kept off it.

``StepProgress`` draws the bar (steps done of ``max_steps``, images/s, the latest loss) when stderr is a terminal
(``sgtr.progress``); without one — a log file, CI — it logs the same figures every ``LOG_EVERY_S`` seconds instead.
``lightning_quiet`` silences, for the length of a run, what Lightning prints that is not about this run: its
accelerator inventory, tips and advertisements, notes on settings sgtr chose deliberately, and other libraries'
deprecation warnings. Lightning's "dataloader is not resumable" warning is answered rather than shown: sgtr's batch
sampler is told the step it resumes at (``ReseedOnResume``) and draws batches it has not drawn yet, and a resumed run
says so once in sgtr's log.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from lightning.pytorch.callbacks import Callback

from sgtr.progress import bar

log = logging.getLogger("sgtr.train")

LOG_EVERY_S = 60.0
# Lightning's loggers for its inventory ("GPU available: False"), tips ("💡 Tip: ... litlogger") and the end line.
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")
# Lightning warnings about choices sgtr makes on purpose; each is a regular expression on the message's start.
LIGHTNING_NOTES = (
    r"You defined a `validation_step` but have no `val_dataloader`",  # a config without data.val
    r"Precision .* is not supported by the model summary",
    r"The '\w+_dataloader' does not have many workers",  # data.workers is the config's choice
    r"The number of training batches \(\d+\) is smaller than the logging interval",  # a small set, logged anyway
    r"You're resuming from a checkpoint that ended before the epoch ended",  # answered by ReseedOnResume
    r".*isinstance\(treespec, LeafSpec\)",  # Lightning's pytree shim on this torch
)


@contextmanager
def lightning_quiet() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in LIGHTNING_LOGGERS}
    with warnings.catch_warnings():
        for note in LIGHTNING_NOTES:
            warnings.filterwarnings("ignore", message=note)
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)
        for name in LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


class StepProgress(Callback):
    """Progress toward ``max_steps`` on the global-rank-0 process: a bar, or a log line now and then."""

    def __init__(self) -> None:
        self.progress = None
        self.images = 0
        self.started = self.last_log = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        if trainer.global_step:
            log.info("resuming at step %d of %d: the batch sampler continues with batches not drawn yet",
                     trainer.global_step, trainer.max_steps)
        self.progress = bar(total=trainer.max_steps, desc="training", unit="step")
        self.progress.update(trainer.global_step)
        self.images, self.started = 0, time.perf_counter()
        self.last_log = self.started

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.progress is None:
            return
        self.images += len(batch) * trainer.world_size
        self.progress.update(trainer.global_step - self.progress.n)
        now = time.perf_counter()
        rate = self.images / max(now - self.started, 1e-9)
        loss = trainer.callback_metrics.get("train/loss")
        loss = "" if loss is None else f"{float(loss):.4g}"
        if not self.progress.disable:
            self.progress.set_postfix_str(f"{rate:.0f} images/s, loss {loss}", refresh=False)
        elif now - self.last_log > LOG_EVERY_S:
            self.last_log = now
            log.info("step %d of %d, %.0f images/s, loss %s", trainer.global_step, trainer.max_steps, rate, loss)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None
