#!/usr/bin/env bash
# How close the start-up table's memory estimate (train/memory_budget.h) comes to a run's
# measured peak: runs c2fmae_pretrain and c2fmae_finetune for 2 steps on synthetic data with
# several recipes and batch sizes on the CPU, and prints one markdown table of the estimate,
# the peak resident memory (GNU time's maximum RSS) and their ratio.
#
#   scripts/bench_memory_estimate.sh [--build build] [--work DIR]
#
# Takes about 5 minutes on 2 CPU cores. Results: docs/PERFORMANCE.md, "Memory estimate".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${C2FMAE_BUILD_DIR:-$root/build}" work=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_memory_estimate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "bench_memory_estimate.sh: needs GNU time (apt install time)" >&2; exit 2; }
if [[ -z "$work" ]]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
common=(--set data.source=synthetic --set data.root= --set optim.accum_steps=1 --set train.device=cpu --set train.max_steps=2
        --set data.num_workers=2 --set train.checkpoint_every=1000000 --set log.progress=false)
echo "| program | recipe | batch | estimate GiB | peak RSS GiB | estimate / peak |"
echo "|---|---|---:|---:|---:|---:|"
run() {  # program recipe batch extra...
  local program=$1 recipe=$2 batch=$3; shift 3
  local out="$work/run-$RANDOM"
  /usr/bin/time -f "%M" -o "$work/rss" "$build/tools/$program" --config "$root/configs/$recipe" \
    --output-dir "$out" "${common[@]}" --set data.batch_size="$batch" "$@" >"$work/log" 2>&1 ||
    { echo "bench_memory_estimate.sh: $program $recipe failed:" >&2; tail -5 "$work/log" >&2; exit 1; }
  local estimate peak
  estimate=$(grep -o "memory estimate *[0-9.]* GiB" "$work/log" | grep -o "[0-9.]* GiB" | cut -d' ' -f1)
  peak=$(awk '{printf "%.2f", $1 / 1048576}' "$work/rss")
  echo "| $program | $(basename "$recipe" .yaml) | $batch | $estimate | $peak | $(awk -v e="$estimate" -v p="$peak" 'BEGIN {printf "%.2f", e / p}') |"
  rm -rf "$out"
}
run c2fmae_pretrain debug/tiny.yaml 8
run c2fmae_pretrain pretrain/demo_synthetic_tiny.yaml 64
run c2fmae_pretrain pretrain/c2fmae_vit_base_400ep.yaml 8
run c2fmae_pretrain pretrain/c2fmae_vit_base_400ep.yaml 32
run c2fmae_pretrain pretrain/mae_vit_base_1600ep.yaml 32
run c2fmae_finetune finetune/vit_base_imagenet_100ep.yaml 8 --set model.num_classes=1000 \
  --set finetune.synthetic_val_samples=8 --set finetune.mixup=0 --set finetune.cutmix=0
run c2fmae_finetune finetune/linprobe_vit_base_90ep.yaml 32 --set model.num_classes=1000 \
  --set finetune.synthetic_val_samples=32
