"""Running a training job from a config: seeds, threads, model, loaders, Lightning Trainer, checkpoints, resume.

One CPU or GPU, or several GPUs/nodes through Lightning's DDP when launched by torchrun or SLURM (Lightning reads
their environment). The learning rate is scaled to the global batch in ``RecognitionSystem``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from sgtr.data.charset import Charset
from sgtr.engine.checkpoint_io import AtomicCheckpointIO
from sgtr.engine.config import ConfigError
from sgtr.engine.console import StepProgress
from sgtr.engine.curves import plot_training_curves
from sgtr.engine.data import train_loader, val_loaders
from sgtr.engine.distillation import Distillation
from sgtr.engine.system import RecognitionSystem
from sgtr.inference.weights import load_weights, read_weights
from sgtr.models.spec import ModelSpec
from sgtr.models.warm_start import load_matching
from sgtr.serialization import CheckpointError, load_safe

log = logging.getLogger("sgtr.train")


def charset_from_config(config: dict) -> Charset:
    c = config["charset"]
    try:
        return Charset.from_spec(c["spec"], max_length=c["max_length"], unknown=c["unknown"])
    except ValueError as exc:  # Charset's own checks: an unreadable file, a symbol listed twice
        raise ConfigError(f"charset.spec: {exc}") from None


def model_from_config(config: dict, charset: Charset) -> torch.nn.Module:
    """The model the config's ``model`` section describes, built by ``ModelSpec`` as every reader rebuilds it."""
    try:
        return ModelSpec.from_config(config, charset).build()
    except ValueError as exc:  # the factory's and the configs' checks: unknown names, options, presets
        raise ConfigError(f"model: {exc}") from None


def _world() -> tuple[int, int]:
    """(global rank, processes on this node) from the launcher's environment, before Lightning sets up."""
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0)))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("SLURM_NTASKS_PER_NODE", 1)))
    return rank, local


class ReseedOnResume(Callback):
    """Makes a resumed run draw batches it has not drawn yet, instead of replaying the epoch from its start."""

    def on_train_start(self, trainer, pl_module) -> None:
        sampler = trainer.train_dataloader.batch_sampler if trainer.train_dataloader is not None else None
        if sampler is not None and hasattr(sampler, "start"):
            sampler.start = trainer.global_step


def resolve_resume(resume: str | None, config: dict) -> str | None:
    """The checkpoint to resume from (``auto``: the run's last one, if any), checked against the config."""
    if resume is None:
        return None
    if resume == "auto":
        last = Path(config["trainer"]["out"]) / "checkpoints" / "last.ckpt"
        if not last.is_file():
            return None
        resume = str(last)
    ckpt = saved = load_safe(resume)
    for key in ("sgtr", "config", "trainer"):
        saved = saved.get(key) if isinstance(saved, dict) else None
    if not isinstance(saved, dict) or "state_dict" not in ckpt:
        # Lightning would fail on it with a KeyError deep inside; say what it is instead.
        raise CheckpointError(f"{resume}: not an sgtr training checkpoint (no training config inside)")
    if saved.get("max_steps") != config["trainer"]["max_steps"]:
        # The schedule was laid out for the old length; stretching it silently would change the run.
        raise ConfigError(f"{resume}: saved with trainer.max_steps={saved.get('max_steps')}; resume with the same "
                          "value, or start a longer run from it with trainer.init_from")
    return resume


def read_model_state(path: str) -> tuple[Charset | None, dict]:
    """The charset and tensors of a training checkpoint or a weights file (``trainer.init_from``)."""
    if str(path).endswith(".safetensors"):
        spec, state = read_weights(path)
        return spec.charset, state
    ckpt = load_safe(path)
    if not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not an sgtr training checkpoint (no state_dict)")
    old = Charset.from_config(ckpt["sgtr"]["charset"]) if "sgtr" in ckpt else None
    return old, {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}


def train(config: dict, resume: str | None = None, callbacks: list[Callback] = ()) -> Path:
    """Train and return the best checkpoint's path (the last one when no validation set is configured).

    ``callbacks`` are extra Lightning callbacks (a researcher's hooks; the DDP test dumps each rank's weights)."""
    trainer_cfg = config["trainer"]
    out = Path(trainer_cfg["out"])
    rank, local_procs = _world()
    threads = trainer_cfg["threads"] or max(1, (os.cpu_count() or 1) // local_procs)
    torch.set_num_threads(threads)
    L.seed_everything(trainer_cfg["seed"] + rank, workers=True, verbose=False)

    resume = resolve_resume(resume, config)
    charset = charset_from_config(config)
    model = model_from_config(config, charset)
    if trainer_cfg["init_from"]:
        old, state = read_model_state(trainer_cfg["init_from"])
        report = load_matching(model, state, old, charset, origin=trainer_cfg["init_from"])
        log.info("initialised from %s: %s", trainer_cfg["init_from"], report.summary())
    distill = config["distill"]
    distillation = None
    if distill["weight"] > 0:
        if not distill["teacher"]:
            raise ConfigError("distill.weight is above 0 but distill.teacher names no weights file")
        _, teacher = load_weights(distill["teacher"])
        distillation = Distillation(teacher, distill["weight"], distill["temperature"])
        log.info("distilling from %s at weight %g", distill["teacher"], distill["weight"])

    train_dl = train_loader(config, charset, seed=trainer_cfg["seed"] + rank)
    val_names, val_dls = val_loaders(config, charset)
    system = RecognitionSystem(model, charset, config, val_names, distillation)

    precision = trainer_cfg["precision"]
    if precision == "auto":
        # bf16 autocast doubles CPU training speed where the CPU computes bf16 natively (measured 82 → 153 images/s
        # for VR small); elsewhere it is emulated and slower.
        native_bf16 = torch.cuda.is_available() or torch.cpu._is_avx512_bf16_supported()
        precision = "bf16-mixed" if native_bf16 else "32-true"
    ckpt_dir = out / "checkpoints"
    callbacks: list[Callback] = [
        ModelCheckpoint(dirpath=ckpt_dir, filename="last", every_n_train_steps=trainer_cfg["val_every"],
                        save_top_k=1, enable_version_counter=False),
        StepProgress(),  # toward max_steps; Lightning's own bar counts batches per epoch
        LearningRateMonitor(logging_interval="step"),
        ReseedOnResume(),
        *callbacks,
    ]
    if val_dls:
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val/accuracy", mode="max",
                                         save_top_k=1, enable_version_counter=False))
    trainer = L.Trainer(
        accelerator=trainer_cfg["accelerator"], devices=trainer_cfg["devices"], num_nodes=trainer_cfg["num_nodes"],
        # SyncBatchNorm under GPU DDP: statistics over the global batch and the same buffers on every rank (PyTorch
        # has no CPU version; there each rank keeps its own running statistics and rank 0's are saved).
        strategy="auto", sync_batchnorm=torch.cuda.is_available(), precision=precision,
        max_steps=trainer_cfg["max_steps"],
        val_check_interval=trainer_cfg["val_every"] if val_dls else None, check_val_every_n_epoch=None,
        limit_val_batches=None if val_dls else 0, num_sanity_val_steps=0,
        gradient_clip_val=config["optim"]["grad_clip"], log_every_n_steps=trainer_cfg["log_every"],
        # A new version folder per launch: Lightning's CSV writer replaces the file it finds, so a resumed run must
        # not reuse its predecessor's; the curves join the versions.
        logger=[TensorBoardLogger(out, name="tb"), CSVLogger(out, name="csv")],
        callbacks=callbacks, plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,
        enable_model_summary=rank == 0, enable_progress_bar=False, default_root_dir=out,
    )
    trainer.fit(system, train_dataloaders=train_dl, val_dataloaders=val_dls or None,
                ckpt_path=resume, weights_only=True)
    if trainer.global_step % trainer_cfg["val_every"]:
        # The last steps after the final multiple of val_every would otherwise be trained and never saved. Every
        # rank calls this: the strategy writes on rank 0 only.
        trainer.save_checkpoint(ckpt_dir / "last.ckpt")
    if trainer.is_global_zero:
        png = plot_training_curves(out / "csv", out / "training_curves.png")
        if png:
            log.info("training curves: %s", png)
        log.info("%s", system.skips.summary())
    best = ckpt_dir / "best.ckpt"
    return best if best.is_file() else ckpt_dir / "last.ckpt"
