#!/usr/bin/env bash
# Sets up and builds c2fmae (scripts/setup.sh), then the main job on the built-in synthetic
# shapes, about 11 minutes on 2 CPU cores once built:
#   1. pre-trains C2FMAE (configs/pretrain/demo_synthetic_tiny.yaml);
#   2. measures the pre-trained encoder and a randomly initialised one of the same shape
#      with four probes on scenes pre-training never saw: the dense probe (each patch's
#      semantic class from the frozen encoder), DINO's k-NN, a linear probe and fine-tuning
#      (configs/finetune/demo_synthetic_{tiny,linprobe}.yaml);
#   3. prints one table of them beside the majority-class prior, and the pre-training
#      losses beside their trivial baselines.
# Run directories: runs/demo_synthetic_tiny (C2FMAE_DEMO_DIR), runs/demo_{linprobe,finetune}_
# {pretrained,random} (prefix C2FMAE_PROBE_DIR, default runs/demo); running the script
# again resumes or finishes them. Extra arguments go to c2fmae_pretrain, e.g.
# scripts/demo.sh --overwrite (which starts the probe runs over too).
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
BUILD_DIR="${C2FMAE_BUILD_DIR:-build}"
PY="${C2FMAE_VENV:-.venv}/bin/python"
RUN_DIR="${C2FMAE_DEMO_DIR:-runs/demo_synthetic_tiny}"
PROBE_DIR="${C2FMAE_PROBE_DIR:-runs/demo}"
PRETRAIN=configs/pretrain/demo_synthetic_tiny.yaml
FINETUNE=configs/finetune/demo_synthetic_tiny.yaml
LINPROBE=configs/finetune/demo_synthetic_linprobe.yaml
resume=(--resume auto)
for arg in "$@"; do [[ "$arg" == "--overwrite" ]] && resume=(--overwrite); done
pretrain_resume=("${resume[@]}")
[[ "${resume[0]}" == "--overwrite" ]] && pretrain_resume=()
"$BUILD_DIR/tools/c2fmae_pretrain" --config "$PRETRAIN" --output-dir "$RUN_DIR" \
  "${pretrain_resume[@]}" "$@"
echo "demo: pre-training done, run directory $RUN_DIR"

results="$PROBE_DIR.results.jsonl"
mkdir -p "$(dirname "$results")"
: > "$results"
for start in pretrained random; do
  weights=()
  [[ "$start" == pretrained ]] && weights=(--pretrained "$RUN_DIR/latest.pt")
  for mode in dense_probe knn; do
    echo "demo: $mode of the $start encoder"
    line=$("$BUILD_DIR/tools/c2fmae_finetune" --config "$FINETUNE" "${weights[@]}" \
             --set finetune.mode=$mode | tail -1)
    echo "{\"start\": \"$start\", \"eval\": \"$mode\", \"result\": $line}" >> "$results"
  done
  for mode in linprobe finetune; do
    config=$FINETUNE
    [[ "$mode" == linprobe ]] && config=$LINPROBE
    echo "demo: $mode of the $start encoder"
    "$BUILD_DIR/tools/c2fmae_finetune" --config "$config" "${weights[@]}" \
      --output-dir "${PROBE_DIR}_${mode}_$start" "${resume[@]}"
    line=$(grep '"val_top1"' "${PROBE_DIR}_${mode}_$start/metrics.jsonl" | tail -1)
    echo "{\"start\": \"$start\", \"eval\": \"$mode\", \"result\": $line}" >> "$results"
  done
done

"$PY" - "$results" "$RUN_DIR/metrics.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
got = {(r["start"], r["eval"]): r["result"] for r in rows}
def cell(start, ev, key):
    v = got.get((start, ev), {}).get(key)
    return "%.1f" % v if isinstance(v, (int, float)) else "-"
table = [
    ("dense probe: mean accuracy, 6 shapes", "dense_probe", "mean_class_acc", "prior_mean_class_acc"),
    ("dense probe: patch accuracy", "dense_probe", "patch_acc", "prior_patch_acc"),
    ("dense probe: mIoU, 10 classes", "dense_probe", "miou", "prior_miou"),
    ("k-NN (k 20, T 0.07): top-1", "knn", "val_top1", "prior_top1"),
    ("linear probe: top-1", "linprobe", "val_top1", "prior_top1"),
    ("fine-tuning: top-1", "finetune", "val_top1", "prior_top1"),
]
print()
print("demo: the pre-trained encoder against a random one (synthetic shapes; probes trained on")
print("      2048 labelled scenes, measured on 1000 scenes pre-training never saw)")
print("  %-40s %12s %8s %8s" % ("evaluation (%)", "pre-trained", "random", "prior"))
for name, ev, key, prior in table:
    print("  %-40s %12s %8s %8s" % (name, cell("pretrained", ev, key), cell("random", ev, key),
                                    cell("pretrained", ev, prior)))
steps = []
for l in open(sys.argv[2]):
    try:
        r = json.loads(l)
    except ValueError:
        continue
    if "loss_rgb" in r or "loss_semantic" in r:
        steps.append(r)
if steps:
    tail = steps[-max(1, len(steps) // 10):]  # the last tenth of the logged steps
    mean = lambda k: sum(r[k] for r in tail if k in r) / max(1, sum(k in r for r in tail))
    print()
    print("demo: pre-training losses, mean of the last %d logged steps, beside their baselines" % len(tail))
    if any("loss_semantic" in r for r in tail):
        print("  semantic CE %.3f   class prior's entropy %.3f" % (mean("loss_semantic"), mean("semantic_prior_ce")))
    if any("loss_rgb" in r for r in tail):
        print("  RGB norm-pix MSE %.3f   predicting 0: 1.000" % mean("loss_rgb"))
PYEOF
