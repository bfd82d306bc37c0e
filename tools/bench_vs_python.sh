#!/usr/bin/env bash
# Our pre-training step against the Python reference (shared/bench/py_mae_ref.py), one after
# the other on the same GPU, on the same model sizes, then the ratio table:
#
#   tools/bench_vs_python.sh [--batch 256] [--peak-tflops 759] [--build build]
#                            [--bench PATH/c2fmae_bench (default <build>/tools/c2fmae_bench)]
#                            [--reference ../shared/bench/py_mae_ref.py] [--python .venv/bin/python]
#
# Pairs: MAE ViT-B/16 (configs/pretrain/mae_vit_base_1600ep.yaml, 49 of 196 visible) with
# the reference's `mae` variant, and C2FMAE ViT-B/16 (configs/pretrain/c2fmae_vit_base_400ep.yaml,
# 98 of 3 x 196 visible, three-stage cascade) with its `multi` variant; both bf16 on CUDA,
# synthetic device-resident batches. The reference runs eager, default torch.compile and
# reduce-overhead; the ratio is against the fastest of them. Writes the JSON lines to
# bench_vs_python.jsonl in the current folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
batch=256 peak=759 build="$root/build" python="$root/.venv/bin/python" bench=""
reference="$root/../shared/bench/py_mae_ref.py"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) batch=$2; shift 2 ;;
    --peak-tflops) peak=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    --reference) reference=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    *) echo "bench_vs_python.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench=${bench:-$build/tools/c2fmae_bench}
[[ -x "$bench" ]] || { echo "bench_vs_python.sh: no $bench (build first)" >&2; exit 2; }
[[ -f "$reference" ]] || { echo "bench_vs_python.sh: no reference at $reference" >&2; exit 2; }
out=bench_vs_python.jsonl
: > "$out"
synthetic=(--set data.source=synthetic --set data.root= --set data.num_workers=2)
"$bench" --config "$root/configs/pretrain/mae_vit_base_1600ep.yaml" \
  --config "$root/configs/pretrain/c2fmae_vit_base_400ep.yaml" "${synthetic[@]}" \
  --batch "$batch" --device cuda --peak-tflops "$peak" | tee -a "$out"
"$python" "$reference" --bs "$batch" --variants mae,multi --compile 0,1,reduce-overhead | tee -a "$out"
"$python" - "$out" <<'PY'
import json, sys
ours, ref = {}, {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if "config" in r:
        ours["mae" if "mae_vit_base" in r["config"] else "multi"] = r
    elif "img_s" in r:
        best = ref.get(r["variant"])
        if best is None or r["img_s"] > best["img_s"]:
            ref[r["variant"]] = r
print("%-8s %12s %12s %16s %8s %12s %12s" % ("model", "ours img/s", "ref img/s", "ref (compile)",
                                            "ratio", "ours GiB", "ref GiB"))
for k in ("mae", "multi"):
    if k in ours and k in ref:
        o, r = ours[k], ref[k]
        print("%-8s %12.0f %12.0f %16s %8.3f %12.2f %12.2f" % (
            k, o["images_per_s"], r["img_s"], str(r["compile"]), o["images_per_s"] / r["img_s"],
            o["peak_memory_mib"] / 1024, r["peak_gib"]))
PY
