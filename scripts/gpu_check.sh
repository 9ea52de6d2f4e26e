#!/usr/bin/env bash
# GPU check: trains S-GTR `base` (configs/paper/sgtr_base.yaml) for a few hundred steps on synthetic words it renders
# itself, with DDP across every GPU torch sees (torchrun, one process per GPU), prints images/s, peak memory and the
# loss curve, and exits non-zero when the loss did not fall. Sized for under 10 minutes from a bare machine that has
# its own Python and torch but maybe no fonts, no network and not all of sgtr's dependencies: it renders with
# Pillow's built-in font and installs what does not import from a wheelhouse made beforehand with --prepare.
#
#   scripts/gpu_check.sh [--wheelhouse DIR] [--steps 300] [--count 20000] [--config FILE] [--work DIR] [--min-drop 0.1]
#                        [--procs N] [--batch B]   # N processes (default: one per GPU; with --cpu, 1), batch B per
#                                                  # process (default: the config's)
#   scripts/gpu_check.sh --cpu --tiny --steps 3      # dry run of the whole path on a CPU (S-GTR small, 32x128)
#   scripts/gpu_check.sh --prepare DIR [--python-version 3.12] [PACKAGE ...]   # on a machine with PyPI
#
# PYTHON picks the interpreter (default python3). The figures also land in WORK/figures.json (WORK defaults to
# ${TMPDIR:-/tmp}/sgtr_gpu_check, replaced on each run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HELPER="$ROOT/scripts/gpu_check.py"
PYTHON=${PYTHON:-python3}

CONFIG="$ROOT/configs/paper/sgtr_base.yaml"
WORK="${TMPDIR:-/tmp}/sgtr_gpu_check"
STEPS=300
COUNT=20000
MIN_DROP=0.1
WHEELHOUSE=""
CPU=()
TINY=()
PREPARE=""
PREPARE_ARGS=()
PROCS=""
BATCH=0
while (($#)); do
    case "$1" in
        --prepare) PREPARE=$2; shift 2; PREPARE_ARGS=("$@"); break ;;
        --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --count) COUNT=$2; shift 2 ;;
        --config) CONFIG=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --min-drop) MIN_DROP=$2; shift 2 ;;
        --procs) PROCS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --cpu) CPU=(--cpu); shift ;;
        --tiny) TINY=(--tiny); shift ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [[ -n $PREPARE ]]; then
    exec "$PYTHON" "$HELPER" prepare "$PREPARE" "${PREPARE_ARGS[@]}"
fi

SITE="$WORK/site"  # wheels from the wheelhouse land here; sgtr itself runs from the tree, not installed
export PYTHONPATH="$SITE:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
rm -rf "$WORK/words" "$WORK/run" "$WORK/figures.json"
mkdir -p "$WORK"
command -v nvidia-smi >/dev/null && nvidia-smi -L || true
"$PYTHON" "$HELPER" deps ${WHEELHOUSE:+--wheelhouse "$WHEELHOUSE"} --site "$SITE"

if [[ -z $PROCS ]]; then
    if ((${#CPU[@]})); then PROCS=1; else PROCS=$("$PYTHON" "$HELPER" gpus); fi
fi
if ((PROCS == 0)); then
    echo "gpu_check: torch sees no GPU; run with --cpu for a dry run" >&2
    exit 1
fi
RUN=(--config "$CONFIG" --work "$WORK" --steps "$STEPS" --count "$COUNT" --procs "$PROCS" --batch "$BATCH" "${CPU[@]}" "${TINY[@]}")
"$PYTHON" "$HELPER" words "${RUN[@]}"
if ((PROCS > 1)); then
    "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$PROCS" "$HELPER" train "${RUN[@]}"
else
    "$PYTHON" "$HELPER" train "${RUN[@]}"
fi
"$PYTHON" "$HELPER" report "$WORK/figures.json" --min-drop "$MIN_DROP"
