#!/usr/bin/env bash
# The default model's recipe, end to end and resumable: import PP-OCRv6-small from the rapidocr wheel → synthetic
# words with character masks at its geometry (48 high, aspect kept) → GTR plugged into it, fine-tuned on synthetic +
# real training crops with distillation from the imported network (configs/default_ppocr_gtr.yaml; checkpoints judged
# on the held-back split splits/val only) → fp16 weights → int8 ONNX → benchmarks scored once, at the end. Each step
# skips what is already done, so rerunning after a kill continues. Extra arguments go to the training run.
#   bash scripts/train_default_model.sh [KEY=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SGTR=${SGTR:-.venv/bin/sgtr}
WORKERS=${WORKERS:-1}
OUT=runs/default

[ -f runs/pretrained/ppocr94.safetensors ] ||
  $SGTR import ppocr --charset 94 --out runs/pretrained/ppocr94.safetensors
$SGTR synth --out data/synth48/val --count 300 --seed 999 --charset 94 --height 48 --width 320 --keep-ratio \
  --workers "$WORKERS"
$SGTR synth --out data/synth48/train --count "${SYNTH_COUNT:-9728}" --seed 1 --charset 94 --height 48 --width 320 \
  --keep-ratio --workers "$WORKERS"

$SGTR train configs/default_ppocr_gtr.yaml "$@" --resume auto

CKPT=$OUT/ppocr_gtr/checkpoints/last.ckpt
$SGTR export "$CKPT" --weights $OUT/default.safetensors --half
$SGTR export "$CKPT" --onnx $OUT/default_int8.onnx --int8 --calibration splits/train/IIIT5K_train_2000
$SGTR evaluate $OUT/default.safetensors --branches --json $OUT/benchmarks.json
$SGTR evaluate $OUT/default_int8.onnx --json $OUT/benchmarks_int8.json
