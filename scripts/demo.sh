#!/usr/bin/env bash
# Sets up and builds c2fmae (scripts/setup.sh), then pre-trains the demo: C2FMAE with a
# ViT-tiny encoder on the built-in synthetic shapes, about 2-3 minutes on 2 CPU cores.
# The run directory is runs/demo_synthetic_tiny (C2FMAE_DEMO_DIR overrides it); running the
# script again resumes or finishes that run. Extra arguments go to c2fmae_pretrain, e.g.
# scripts/demo.sh --overwrite, or --set train.epochs=10.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
BUILD_DIR="${C2FMAE_BUILD_DIR:-build}"
RUN_DIR="${C2FMAE_DEMO_DIR:-runs/demo_synthetic_tiny}"
resume=(--resume auto)
for arg in "$@"; do [[ "$arg" == "--overwrite" ]] && resume=(); done
"$BUILD_DIR/tools/c2fmae_pretrain" --config configs/pretrain/demo_synthetic_tiny.yaml \
  --output-dir "$RUN_DIR" "${resume[@]}" "$@"
echo "demo: run directory $RUN_DIR (config.yaml, train.log, metrics.jsonl, checkpoints)"
