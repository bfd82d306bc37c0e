#!/usr/bin/env bash
# Sets up and builds c2fmae (scripts/setup.sh), then the main job on the built-in synthetic
# shapes, about 6 minutes on 2 CPU cores:
#   1. pre-trains C2FMAE with a ViT-tiny encoder (configs/pretrain/demo_synthetic_tiny.yaml);
#   2. fine-tunes a classifier of the image label from that encoder, and the same fine-tuning
#      from random initialisation on the same budget (configs/finetune/demo_synthetic_tiny.yaml);
#   3. prints both validation accuracies.
# Run directories: runs/demo_synthetic_tiny, runs/demo_finetune_{pretrained,scratch}
# (C2FMAE_DEMO_DIR overrides the first, C2FMAE_FINETUNE_DIR the prefix of the others);
# running the script again resumes or finishes them. Extra arguments go to c2fmae_pretrain,
# e.g. scripts/demo.sh --overwrite (which starts the fine-tuning runs over too).
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
BUILD_DIR="${C2FMAE_BUILD_DIR:-build}"
RUN_DIR="${C2FMAE_DEMO_DIR:-runs/demo_synthetic_tiny}"
FT_DIR="${C2FMAE_FINETUNE_DIR:-runs/demo_finetune}"
resume=(--resume auto)
for arg in "$@"; do [[ "$arg" == "--overwrite" ]] && resume=(--overwrite); done
pretrain_resume=("${resume[@]}")
[[ "${resume[0]}" == "--overwrite" ]] && pretrain_resume=()
"$BUILD_DIR/tools/c2fmae_pretrain" --config configs/pretrain/demo_synthetic_tiny.yaml \
  --output-dir "$RUN_DIR" "${pretrain_resume[@]}" "$@"
echo "demo: pre-training done, run directory $RUN_DIR"

for start in pretrained scratch; do
  weights=()
  [[ "$start" == pretrained ]] && weights=(--pretrained "$RUN_DIR/latest.pt")
  "$BUILD_DIR/tools/c2fmae_finetune" --config configs/finetune/demo_synthetic_tiny.yaml \
    --output-dir "${FT_DIR}_$start" "${resume[@]}" "${weights[@]}"
done

# The last evaluation of each fine-tuning run (metrics.jsonl), side by side.
last_top1() {
  grep '"val_top1"' "$1/metrics.jsonl" | tail -1 | sed -E 's/.*"val_top1": ?([0-9.eE+-]+).*/\1/'
}
echo
echo "demo: synthetic-shapes classification (6 classes, 512 labelled scenes, 1000 unseen)"
printf '  %-42s %s\n' "fine-tuned from" "val top-1 (%)"
printf '  %-42s %s\n' "the pre-trained C2FMAE encoder" "$(last_top1 "${FT_DIR}_pretrained")"
printf '  %-42s %s\n' "random initialisation (same budget)" "$(last_top1 "${FT_DIR}_scratch")"
