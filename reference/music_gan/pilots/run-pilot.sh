#!/bin/bash
# One pilot of the recurrent generator, run from the repository root:
#   reference/music_gan/pilots/run-pilot.sh NAME STEPS [--set SECTION.KEY=VALUE ...]
# The `cpu` preset with model.generator=lstm, a checkpoint every 1000 steps (kept), one CPU thread,
# into _build/pilots/NAME; `/usr/bin/time -v` appends wall and CPU times to _build/pilots/NAME.log.
set -euo pipefail
name=$1; steps=$2; shift 2
mkdir -p _build/pilots
OMP_NUM_THREADS=1 /usr/bin/time -v .venv/bin/python -m musicgan train --config cpu --set model.generator=lstm \
  --set train.steps="$steps" --set train.checkpoint_every=1000 --set train.keep_checkpoints=6 \
  --set train.image_every=1000 "$@" --out "_build/pilots/$name" > "_build/pilots/$name.log" 2>&1
