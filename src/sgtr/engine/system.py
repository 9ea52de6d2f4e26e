"""The Lightning wrapper around a plain recognizer: training and validation steps, metrics, optimiser and schedule.

The model knows nothing of Lightning; this module feeds it ``Targets``, logs its losses, skips non-finite steps, and
scores validation sets with the evaluation protocol that matches the charset.
"""

from __future__ import annotations

import logging
import math
import time

import lightning as L
import torch
from torch import nn

from sgtr.data.charset import PAD_ID, Charset
from sgtr.data.loading import Batch
from sgtr.data.skips import SkipLog
from sgtr.models.decoding import decode
from sgtr.models.output import Targets

log = logging.getLogger("sgtr.train")


class NonFiniteLossError(RuntimeError):
    pass


def batch_word_accuracy(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose greedy prediction matches every target step up to and including EOS."""
    match = (logits.argmax(dim=-1) == ids) | (ids == PAD_ID)
    return match.all(dim=1).float().mean()


class RecognitionSystem(L.LightningModule):
    def __init__(self, model: nn.Module, charset: Charset, config: dict, val_names: list[str] = ()):
        super().__init__()
        self.model = model
        self.charset = charset
        self.config = config
        self.val_names = list(val_names)
        self.skips = SkipLog(quiet=False)
        self.nan_streak = 0
        self._tick: float | None = None
        self._val_counts: dict[int, list[int]] = {}

    # ---- checkpoint metadata: plain types only, so checkpoints load with weights_only=True --------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["sgtr"] = {"config": self.config, "charset": self.charset.to_config()}

    def transfer_batch_to_device(self, batch: Batch, device: torch.device, dataloader_idx: int) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(batch.images), move(batch.ids), move(batch.masks), move(batch.has_mask), batch.keys,
                     batch.labels, batch.skips)

    # ---- training -----------------------------------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int):
        self.skips.extend(batch.skips)
        if len(batch) == 0:
            return None
        out = self.model(batch.images, Targets(batch.ids, batch.masks, batch.has_mask))
        loss = out.loss
        if not torch.isfinite(loss):
            self.nan_streak += 1
            log.warning("step %d: non-finite loss (%s), step skipped", self.global_step, loss.item())
            if self.nan_streak >= self.config["trainer"]["nan_patience"]:
                raise NonFiniteLossError(f"{self.nan_streak} consecutive non-finite losses: lower optim.lr or check "
                                         "the data; stopping")
            return None
        self.nan_streak = 0
        now = time.perf_counter()
        if self._tick is not None:
            self.log("train/images_per_s", len(batch) / max(now - self._tick, 1e-9), prog_bar=True)
        self._tick = now
        bs = len(batch)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=bs)
        for name, value in out.losses.items():
            self.log(f"train/loss_{name}", value.detach(), batch_size=bs)
        if not out.ctc:
            self.log("train/accuracy", batch_word_accuracy(out.logits.detach(), batch.ids), prog_bar=True,
                     batch_size=bs)
        self.log("train/skipped", float(len(self.skips)), batch_size=bs)
        return loss

    # ---- validation ---------------------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_counts = {}

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        counts = self._val_counts.setdefault(dataloader_idx, [0, 0])
        if len(batch) == 0:
            return
        predictions = decode(self.model(batch.images), self.charset)
        counts[0] += sum(p.text == label for p, label in zip(predictions, batch.labels))
        counts[1] += len(batch)

    def on_validation_epoch_end(self) -> None:
        accuracies = []
        for idx, name in enumerate(self.val_names):
            correct, total = self._val_counts.get(idx, [0, 0])
            stats = self.all_gather(torch.tensor([correct, total], dtype=torch.float64)).reshape(-1, 2).sum(0)
            acc = (stats[0] / stats[1]).item() if stats[1] > 0 else 0.0
            accuracies.append(acc)
            self.log(f"val/{name}", acc, sync_dist=False, add_dataloader_idx=False)
        if accuracies:
            self.log("val/accuracy", sum(accuracies) / len(accuracies), prog_bar=True, add_dataloader_idx=False)

    # ---- optimisation -------------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        optim, trainer = self.config["optim"], self.config["trainer"]
        global_batch = self.config["data"]["batch_size"] * self.trainer.world_size
        lr = optim["lr"] * global_batch / optim["base_batch"]
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim <= 1 else decay).append(param)
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": optim["weight_decay"]},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=lr)
        steps = trainer["max_steps"]
        warmup = max(1, int(optim["warmup"] * steps))
        if optim["schedule"] == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps + 1,
                                                            pct_start=warmup / steps, cycle_momentum=False)
        elif optim["schedule"] == "cosine":
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        else:
            raise ValueError(f"optim.schedule must be 'onecycle' or 'cosine', got {optim['schedule']!r}")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
