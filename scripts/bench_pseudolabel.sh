#!/usr/bin/env bash
# c2fmae_pseudolabel's speed: images/s and the share of each stage, on ImageNet-like JPEGs.
#
#   scripts/bench_pseudolabel.sh [--images 64] [--batch 8] [--workers 2] [--device cpu]
#       [--source random:mask2former] [--export-args "..."] [--model FILE.pt|FILE.pt2]
#       [--build build] [--python .venv/bin/python] [--work DIR] [--keep]
#
# 1. Writes --images JPEGs (quality 90, 500x375 and 375x500 alternating, smooth gradients,
#    blurred shapes, texture and noise) as an ImageFolder split <work>/data/train/<class>/.
# 2. Exports --source with tools/export_segmenter.py as TorchScript (default random:mask2former,
#    the tiny mask-classification net with detectron2's input: short side 800, max 1333,
#    size divisibility 32, per-image padded sizes); --export-args adds export options
#    (e.g. "--canvas 256x256 --short-side 256 --max-side 256" for random:hf-mask2former,
#    which is traced). --source none skips it. On --device cuda the model is exported for CUDA.
# 3. Runs c2fmae_pseudolabel on that model, then on --model (e.g. a real exported .pt2) if
#    given, with --batch/--workers/--device, and prints one markdown table from each run's
#    record <out>/pseudolabel.json: images/s, and for read+decode, model, post-processing and
#    encode+write the seconds and their share of the wall time. Read+decode and encode+write
#    are summed over the worker threads (they overlap the model), so their share is of
#    workers x wall time; the model and post-processing run on one thread, their share is of
#    the wall time.
# The default run takes about a minute on 2 CPU cores. Everything is under --work (default a
# new temporary folder, removed at the end unless --keep).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
images=64 batch=8 workers=2 device=cpu source=random:mask2former export_args="" model=""
build="${C2FMAE_BUILD_DIR:-$root/build}" python="${C2FMAE_VENV:-$root/.venv}/bin/python" work="" keep=0
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --export-args) export_args=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_pseudolabel.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
program="$build/tools/c2fmae_pseudolabel"
[[ -x "$program" ]] || { echo "bench_pseudolabel.sh: no $program (build first, or --build DIR)" >&2; exit 2; }
[[ -x "$python" ]] || { echo "bench_pseudolabel.sh: no python at $python (--python)" >&2; exit 2; }
[[ -z "$model" || -f "$model" ]] || { echo "bench_pseudolabel.sh: no model file $model" >&2; exit 2; }
[[ "$source" != none || -n "$model" ]] || { echo "bench_pseudolabel.sh: --source none needs --model" >&2; exit 2; }
if [[ -z "$work" ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/bench_pseudolabel.XXXXXX")
  [[ $keep == 1 ]] || trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

# 1. The images.
if [[ ! -f "$work/data/.done-$images" ]]; then
  rm -rf "$work/data"
  "$python" - "$work/data/train" "$images" <<'PY'
import os, sys
import numpy as np
from PIL import Image, ImageDraw, ImageFilter
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
classes = [f"n{c:08d}" for c in range(4)]
for i in range(n):
    w, h = (500, 375) if i % 2 == 0 else (375, 500)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    grad = rng.uniform(-0.25, 0.25, (2, 3))
    img = base + xx[..., None] * grad[0] + yy[..., None] * grad[1]
    for _ in range(3):  # low-frequency texture
        f, ph = rng.uniform(0.01, 0.06, 2), rng.uniform(0, 6.3, 2)
        img += rng.uniform(5, 25) * (np.sin(xx * f[0] + ph[0]) * np.cos(yy * f[1] + ph[1]))[..., None]
    pic = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pic)
    for _ in range(int(rng.integers(3, 9))):  # objects
        x0, y0 = rng.uniform(-50, w), rng.uniform(-50, h)
        x1, y1 = x0 + rng.uniform(30, w / 2), y0 + rng.uniform(30, h / 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    pic = pic.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    arr = np.asarray(pic).astype(np.float32) + rng.normal(0, 6, (h, w, 3))  # sensor noise
    folder = os.path.join(out, classes[i % len(classes)])
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
        os.path.join(folder, f"img_{i:05d}.JPEG"), quality=90)
PY
  touch "$work/data/.done-$images"
fi

# 2. The models.
models=()
if [[ "$source" != none ]]; then
  exported="$work/exported.pt"
  export_device=cpu
  [[ "$device" == cuda* ]] && export_device=cuda
  # shellcheck disable=SC2086
  "$python" "$root/tools/export_segmenter.py" --source "$source" --format torchscript \
    --device "$export_device" --out "$exported" --overwrite $export_args >"$work/export.log" 2>&1 ||
    { cat "$work/export.log" >&2; echo "bench_pseudolabel.sh: export failed" >&2; exit 1; }
  grep -v -i warn "$work/export.log" | grep "^export_segmenter:\|^  " || true
  models+=("$exported")
fi
[[ -n "$model" ]] && models+=("$(cd "$(dirname "$model")" && pwd)/$(basename "$model")")

# 3. The runs.
records=()
for i in "${!models[@]}"; do
  out="$work/out$i"
  rm -rf "$out"
  echo "bench_pseudolabel.sh: ${models[$i]}: $images images, --batch $batch --workers $workers --device $device"
  "$program" --model "${models[$i]}" --root "$work/data" --split train --out "$out" --rgb symlink \
    --device "$device" --batch "$batch" --workers "$workers" --progress-seconds 0
  records+=("$out/pseudolabel.json")
done

"$python" - "$workers" "${records[@]}" <<'PY'
import json, os, platform, subprocess, sys
import torch
workers, paths = int(sys.argv[1]), sys.argv[2:]
cpu = platform.processor() or "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"\nMachine: {os.cpu_count()} CPUs ({cpu}), GPU {gpu}, torch {torch.__version__}\n")
print("| model | format | device | batch | workers | images | wall s | images/s | batches (padded slots) "
      "| read+decode s (share of workers x wall) | model s (share of wall) "
      "| post-process s (share of workers x wall) "
      "| encode+write s (share of workers x wall) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for path in paths:
    r = json.load(open(path))
    if r["status"] != "done":
        print(f"| {path}: {r['status']}: {r['failure']} |")
        continue
    meta = json.loads(r["model"]["metadata"])
    s = r["splits"][0]
    wall = s["seconds"]
    share = lambda v, threads=1: f"{v:.2f} ({100 * v / (wall * threads):.0f}%)" if wall > 0 else f"{v:.2f}"
    o = r["options"]
    b = s["batch"]
    print(f"| {meta['source']} | {r['model']['format']} | {o['device']} | {b} | {o['workers']} | {s['written']} "
          f"| {wall:.2f} | {s['images_per_second']:.2f} | {s['batches']} ({s['padded_batch_slots']}) "
          f"| {share(s['seconds_read_decode_summed'], workers)} | {share(s['seconds_model'])} "
          f"| {share(s['seconds_postprocess_summed'], workers)} | {share(s['seconds_encode_write_summed'], workers)} |")
PY
