#!/usr/bin/env bash
# The default model's recipe, end to end and resumable. Two candidates, chosen between on the held-back validation
# split (splits/val) only, benchmarks scored once at the end:
#   A. PP-OCRv6-small imported from the rapidocr wheel, charset 94 (no fine-tuning);
#   B. GTR plugged into it with A frozen: GTR, its segmentation head and the mixture fusion learn on the real
#      training crops and synthetic words with character masks (48 high, aspect kept), on order maps from A's own
#      CTC alignment (configs/ppocr_gtr_frozen.yaml; last round's B, configs/default_ppocr_gtr.yaml, fine-tuned A too
#      and read worse).
# The better on validation (size-weighted word accuracy, protocol 94) is written as the bundled fp16 model with its
# SHA-256, then int8 ONNX and the benchmark tables. Each step skips what is already done, so rerunning after a kill
# continues. Extra arguments go to B's training run (e.g. trainer.max_steps=500).
#   bash scripts/train_default_model.sh [KEY=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SGTR=${SGTR:-.venv/bin/sgtr}
WORKERS=${WORKERS:-1}
OUT=runs/default
VAL="splits/val/IIIT5K_train_2000 splits/val/SVT_train_257 splits/val/IC15_train_4468"
mkdir -p $OUT runs/pretrained

[ -f runs/pretrained/ppocr94.safetensors ] ||
  $SGTR import ppocr --charset 94 --out runs/pretrained/ppocr94.safetensors
[ -f data/synth48/val/data.mdb ] || $SGTR synth --out data/synth48/val --count 300 --seed 999 --charset 94 \
  --height 48 --width 320 --keep-ratio --workers "$WORKERS"
$SGTR synth --out data/synth48/train --count "${SYNTH_COUNT:-9728}" --seed 1 --charset 94 --height 48 --width 320 \
  --keep-ratio --workers "$WORKERS"
$SGTR train configs/ppocr_gtr_frozen.yaml trainer.out=$OUT/ppocr_gtr_frozen "$@" --resume auto

$SGTR evaluate runs/pretrained/ppocr94.safetensors $VAL --protocol 94 --json $OUT/val_A.json
$SGTR evaluate $OUT/ppocr_gtr_frozen/checkpoints/last.ckpt $VAL --protocol 94 --branches --json $OUT/val_B.json
WINNER=$(.venv/bin/python -c "
import json, sys
score = {k: json.load(open(f'$OUT/val_{k}.json'))['weighted_mean']['accuracy'] for k in 'AB'}
print(max(score, key=score.get)); print(score, file=sys.stderr)")
if [ "$WINNER" = A ]; then
  $SGTR import ppocr --charset 94 --half --out src/sgtr/assets/default.safetensors
else
  $SGTR export $OUT/ppocr_gtr_frozen/checkpoints/last.ckpt --weights src/sgtr/assets/default.safetensors --half
fi
(cd src/sgtr/assets && sha256sum default.safetensors > default.safetensors.sha256)

# int8 ranges calibrated on 2,048 training crops drawn from all three splits/train sets (never the validation split;
# docs/pretrained.md: fewer crops moved validation readings from draw to draw).
.venv/bin/python -c "
import random
from pathlib import Path
crops = [str((f.parent / l.split('\t')[0]).resolve()) for f in sorted(Path('splits/train').glob('*/labels.tsv'))
         for l in f.read_text().splitlines()]
print('\n'.join(random.Random(0).sample(crops, 2048)))
" > $OUT/calibration.txt
$SGTR export src/sgtr/assets/default.safetensors --onnx $OUT/default_int8.onnx --int8 --calibration @$OUT/calibration.txt
$SGTR evaluate src/sgtr/assets/default.safetensors --json $OUT/benchmarks_default.json
$SGTR evaluate $OUT/default_int8.onnx --json $OUT/benchmarks_int8.json
$SGTR evaluate $OUT/ppocr_gtr_frozen/checkpoints/last.ckpt --branches --json $OUT/benchmarks_gtr.json
