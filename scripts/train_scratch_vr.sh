#!/usr/bin/env bash
# The from-scratch VR + LM recipe (the default model before sgtr stood on pretrained weights), end to end and
# resumable: synthetic data → stages 1 and 1b (VR on synthetic words, 1M
# samples in all) → stage 2 (VR, real + synthetic mix) → stages 3–4 (the VR gains the language model) → stages 5–6
# (mild augmentation) → fp16 safetensors in the package → benchmark table. Each step skips what is
# already done, so rerunning after a kill continues. Extra arguments go to every training stage (e.g.
# trainer.threads=2).
#   bash scripts/train_default_model.sh [KEY=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SGTR=${SGTR:-.venv/bin/sgtr}
WORKERS=${WORKERS:-2}

$SGTR synth --out data/synth/val --count 2000 --seed 999 --charset 62 --workers "$WORKERS"
$SGTR synth --out data/synth/train --count 400000 --seed 1 --charset 62 --workers "$WORKERS"

$SGTR train configs/default_stage1_synth.yaml "$@" --resume auto
$SGTR train configs/default_stage1b_synth.yaml "$@" --resume auto
$SGTR train configs/default_stage2_real.yaml "$@" --resume auto
$SGTR train configs/default_stage3_lm.yaml "$@" --resume auto
$SGTR train configs/default_stage4_lm.yaml "$@" --resume auto
$SGTR train configs/default_stage5_aug.yaml "$@" --resume auto
$SGTR train configs/default_stage6_aug.yaml "$@" --resume auto

$SGTR export runs/default/stage6/checkpoints/last.ckpt --weights runs/default/scratch_vr.safetensors --half

$SGTR evaluate runs/default/scratch_vr.safetensors --json runs/default/scratch_vr_benchmarks.json
