"""The Lightning wrapper around a plain recognizer: training and validation steps, metrics, optimiser and schedule.

The model knows nothing of Lightning; this module feeds it each ``Batch``'s images and ``Targets``, logs its losses,
skips non-finite steps, and scores validation sets with the evaluation protocol that matches the charset.
"""

from __future__ import annotations

import logging
import math
import time

import lightning as L
import torch
from torch import nn

from sgtr.data.batching import Batch
from sgtr.data.charset import PAD_ID, Charset
from sgtr.data.skips import SkipLog
from sgtr.engine.data import protocol_for
from sgtr.engine.distillation import Distillation
from sgtr.evaluation.metrics import Tally
from sgtr.models.decoding import decode

log = logging.getLogger("sgtr.train")


class NonFiniteLossError(RuntimeError):
    pass


def batch_word_accuracy(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose greedy prediction matches every target step up to and including EOS."""
    match = (logits.argmax(dim=-1) == ids) | (ids == PAD_ID)
    return match.all(dim=1).float().mean()


class RecognitionSystem(L.LightningModule):
    def __init__(self, model: nn.Module, charset: Charset, config: dict, val_names: list[str] = (),
                 distillation: Distillation | None = None):
        super().__init__()
        self.model = model
        # Kept out of the module tree, so the frozen teacher never lands in a checkpoint.
        self._distillation = (distillation,)
        self.charset = charset
        self.config = config
        self.val_names = list(val_names)
        self.skips = SkipLog(quiet=False)
        self.nan_streak = 0
        self._tick: float | None = None
        self.protocol = protocol_for(charset)
        self._val_tallies: dict[int, Tally] = {}

    # ---- checkpoint metadata: plain types only, so checkpoints load with weights_only=True --------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["sgtr"] = {"config": self.config, "charset": self.charset.to_config()}

    def transfer_batch_to_device(self, batch: Batch, device: torch.device, dataloader_idx: int) -> Batch:
        return batch.to(device)

    def on_fit_start(self) -> None:
        if self._distillation[0] is not None:  # outside the module tree, so Lightning does not move it
            self._distillation[0].to(self.device)

    # ---- training ----------------------------------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int):
        self.skips.extend(batch.skips)
        if len(batch) == 0:
            return None
        set_step = getattr(self.model, "set_step", None)
        if set_step is not None:  # a model with a training schedule (S-GTR, the GTR plug-in) learns where it is
            set_step(self.global_step)
        out = self.model(batch.images, batch.targets)
        loss = out.loss
        distillation = self._distillation[0]
        if distillation is not None and distillation.weight > 0:
            out.losses["distill"] = distillation(out, batch.images)
            loss = loss + distillation.weight * out.losses["distill"]
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
            self.log("train/accuracy", batch_word_accuracy(out.logits.detach(), batch.targets.ids), prog_bar=True,
                     batch_size=bs)
        self.log("train/skipped", float(len(self.skips)), batch_size=bs)
        return loss

    # ---- validation --------------------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_tallies = {}

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Score the greedy readings with the evaluation's own metrics (``Tally``), under the charset's protocol: the
        final output's, and each branch's (VR, LM, GTR, fused, ...) from the same forward pass, for per-branch
        curves."""
        if len(batch) == 0:
            return
        out = self.model(batch.images)
        readings = {None: decode(out, self.charset)}
        readings.update({name: decode(logits, self.charset, ctc=out.ctc) for name, logits in out.branches.items()})
        for branch, predictions in readings.items():
            tally = self._val_tallies.setdefault((dataloader_idx, branch), Tally())
            for prediction, label in zip(predictions, batch.labels):
                tally.add(self.protocol.clean(prediction.text), self.protocol.clean(label))

    def on_validation_epoch_end(self) -> None:
        """Word accuracy and 1-NED per validation set (``val/NAME/accuracy``, ``val/NAME/one_minus_ned``) and their
        means over the sets (``val/accuracy`` picks ``best.ckpt``); each branch's the same under
        ``val/branch/BRANCH/...`` (so ``val/branch/gtr/accuracy`` is GTR's own mean)."""
        branches = sorted({branch for _, branch in self._val_tallies if branch is not None})
        for branch in [None, *branches]:
            prefix = "val" if branch is None else f"val/branch/{branch}"
            means: dict[str, list[float]] = {"accuracy": [], "one_minus_ned": []}
            for idx, name in enumerate(self.val_names):
                tally = self._val_tallies.get((idx, branch), Tally())
                sums = torch.tensor([tally.count, tally.correct, tally.similarity_sum], dtype=torch.float64)
                count, correct, similarity = self.all_gather(sums).reshape(-1, 3).sum(0).tolist()
                scores = {"accuracy": correct / count if count else 0.0,
                          "one_minus_ned": similarity / count if count else 0.0}
                for metric, value in scores.items():
                    means[metric].append(value)
                    self.log(f"{prefix}/{name}/{metric}", value, sync_dist=False, add_dataloader_idx=False)
            for metric, values in means.items():
                if values:
                    self.log(f"{prefix}/{metric}", sum(values) / len(values),
                             prog_bar=branch is None and metric == "accuracy", add_dataloader_idx=False)

    # ---- optimisation ------------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        optim, trainer = self.config["optim"], self.config["trainer"]
        global_batch = self.config["data"]["batch_size"] * self.trainer.world_size
        lr = optim["lr"] * global_batch / optim["base_batch"]
        # A model part with a pretrained ``backbone`` and ``config.backbone_lr`` trains that backbone at that multiple.
        multiplier: dict[int, float] = {}
        for module in self.model.modules():
            scale = getattr(getattr(module, "config", None), "backbone_lr", None)
            if scale is not None and hasattr(module, "backbone"):
                multiplier.update({id(p): float(scale) for p in module.backbone.parameters()})
        groups: dict[tuple[bool, float], list] = {}
        for param in self.model.parameters():
            if param.requires_grad:
                groups.setdefault((param.ndim > 1, multiplier.get(id(param), 1.0)), []).append(param)
        param_groups = [{"params": params, "lr": lr * scale, "weight_decay": optim["weight_decay"] if decays else 0.0}
                        for (decays, scale), params in groups.items()]
        if optim["optimizer"] == "adamw":
            optimizer: torch.optim.Optimizer = torch.optim.AdamW(param_groups, lr=lr)
        elif optim["optimizer"] == "adadelta":  # the reference code's (aster.pytorch lineage); its decay is L2
            optimizer = torch.optim.Adadelta(param_groups, lr=lr)
        else:
            raise ValueError(f"optim.optimizer must be 'adamw' or 'adadelta', got {optim['optimizer']!r}")
        peaks = [group["lr"] for group in optimizer.param_groups]
        steps = trainer["max_steps"]
        warmup = max(1, int(optim["warmup"] * steps))

        def ramp(step: int) -> float:
            return min(1.0, (step + 1) / warmup)

        if optim["schedule"] == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=steps + 1,
                                                            pct_start=warmup / steps, cycle_momentum=False)
        elif optim["schedule"] == "cosine":
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: ramp(s) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        elif optim["schedule"] == "multistep":
            # Steps, not epochs: the engine counts steps, so a milestone is a fraction of max_steps.
            marks = [round(m * steps) for m in optim["milestones"]]
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda s: ramp(s) * optim["gamma"] ** sum(s >= m for m in marks))
        else:
            raise ValueError(f"optim.schedule must be 'onecycle', 'cosine' or 'multistep', got {optim['schedule']!r}")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
