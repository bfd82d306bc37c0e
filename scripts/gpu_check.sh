#!/usr/bin/env bash
# The one prepared script for the GPU host (issue 32): run from the repository root with the
# bundle of scripts/gpu_bundle.sh carried along (`run` with carry: ["gpu_bundle"]), it writes
# everything it measures under $OUT (default ./gpu_check_out) and stops itself before
# GPU_CHECK_LIMIT_S (default 520 s, under 9 minutes), keeping what it measured so far:
#
#   1. env.txt: nvidia-smi, torch and CUDA versions;
#   2. cuda_tests.log: the test binary's CUDA tests (--gtest_filter '*Cuda*:*StaysOnTheDevice*'),
#      and cuda_sync_224.log: the no-host-sync test again at img_size 224;
#   3. programs.txt: c2fmae_pretrain for 30 steps of the C2FMAE ViT-B recipe at batch 64, bf16,
#      synthetic data; c2fmae_finetune for 10 steps from its checkpoint; c2fmae_bench on the
#      recipe: every exit code and the loss lines;
#   4. ratio.log: c2fmae_bench against py_mae_ref.py (eager, compile, reduce-overhead), MAE
#      ViT-B/16 and C2FMAE ViT-B/16 at batch 256: tools/bench_vs_python.sh's JSON lines
#      (bench_vs_python.jsonl) and ratio table;
#   5. profile_ours.txt: a Kineto profile of 10 of our steps (c2fmae_bench --profile: the
#      Chrome trace in profile/) and its top 25 kernels by time; profile_reference.log:
#      torch.profiler's top 25 CUDA kernels of the eager reference (MAE ViT-B/16, batch 256);
#   6. peak memory: c2fmae_bench's and the reference's JSON lines (peak_mem_gib), and the
#      programs' memory_gib in their metrics.
#   summary.txt: each step's exit code and seconds.
#
# GPU_CHECK_DRY=1: the same steps on the CPU with tiny configs (configs/debug/tiny*.yaml, batch
# 8, 3 steps), the reference (CUDA only) and the profile left out, so that the script is
# known to run end to end before device time is spent. Exit status: 0 when every step ran
# (a failed step is recorded, not fatal), 2 for a missing bundle.
set -uo pipefail
root=$(pwd)
bundle="${GPU_BUNDLE:-$root/gpu_bundle}"
out="${OUT:-$root/gpu_check_out}"
dry="${GPU_CHECK_DRY:-0}"
limit="${GPU_CHECK_LIMIT_S:-520}"
[[ -x "$bundle/bin/c2fmae_pretrain" ]] || {
  echo "gpu_check.sh: no bundle at $bundle (scripts/gpu_bundle.sh makes it; carry it)" >&2
  exit 2
}
mkdir -p "$out"
export GPU_CHECK_PYTHON=${GPU_CHECK_PYTHON:-python3}  # the python with the host's torch
# shellcheck source=/dev/null
source "$bundle/env.sh"
# The test binary reads its configs from the source tree it was built in.
if [[ -f "$bundle/source_dir" ]]; then
  src=$(cat "$bundle/source_dir")
  [[ -e "$src" ]] || { mkdir -p "$(dirname "$src")" && ln -s "$root" "$src"; } 2>/dev/null
fi
python=$GPU_CHECK_PYTHON
start=$SECONDS
summary="$out/summary.txt"
: > "$summary"
# step NAME SECONDS COMMAND...: runs it with what is left of the limit (at most SECONDS),
# output to $out/NAME.log, and records its exit code and time.
step() {
  local name=$1 budget=$2; shift 2
  local left=$((limit - (SECONDS - start)))
  ((budget > left)) && budget=$left
  if ((budget < 5)); then
    echo "$name: not run (the time limit is reached)" | tee -a "$summary"
    return 0
  fi
  local t0=$SECONDS
  timeout --signal=TERM --kill-after=10 "$budget" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s$( ((rc == 124)) && echo " (stopped at its $budget s)")" | tee -a "$summary"
  return 0
}

if [[ "$dry" == 1 ]]; then
  device=cpu precision=fp32 batch=8 steps=3 bench_batch=8
  bench_short=(--warmup 1 --windows 1 --window-steps 2)
  pre_cfg=(--config "$root/configs/debug/tiny.yaml")
  ft_cfg=(--config "$root/configs/debug/tiny_finetune.yaml")
  mae_cfg=("${pre_cfg[@]}" --set 'model.modalities=[rgb]' --set 'curriculum.keyframes=[{at: 0, random: 1}]' --set masking.num_visible=4)
  c2f_cfg=("${pre_cfg[@]}")
else
  device=cuda precision=bf16 batch=64 steps=30 bench_batch=256
  bench_short=(--warmup 2 --windows 2 --window-steps 3)
  pre_cfg=(--config "$root/configs/pretrain/c2fmae_vit_base_400ep.yaml")
  ft_cfg=(--config "$root/configs/finetune/vit_base_imagenet_100ep.yaml" --set model.num_classes=1000)
  mae_cfg=(--config "$root/configs/pretrain/mae_vit_base_1600ep.yaml")
  c2f_cfg=("${pre_cfg[@]}")
fi
synthetic=(--set data.source=synthetic --set data.root= --set data.num_workers=8)

# 1. The machine.
{
  nvidia-smi 2>&1 || echo "no nvidia-smi"
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())' 2>&1
  echo "bundle: $(du -sm "$bundle" | cut -f1) MiB; dry run: $dry"
} > "$out/env.txt"

# 2. The CUDA tests (on the CPU they skip: the dry run checks that they are found).
step cuda_tests 120 c2fmae_tests --gtest_filter='*Cuda*:*StaysOnTheDevice*'
# The no-host-sync test again at img_size 224 (its default is the tiny config's 64).
step cuda_sync_224 60 env C2FMAE_SYNC_TEST_IMG_SIZE=224 c2fmae_tests \
  --gtest_filter='PretrainEngine.CudaStepMakesNoHostSyncBeforeItsOneMetricsRead'

# 3. Each training program on the device, and the benchmark.
step pretrain 150 c2fmae_pretrain "${pre_cfg[@]}" "${synthetic[@]}" --output-dir "$out/pre" \
  --set train.device=$device --set train.precision=$precision --set data.batch_size=$batch \
  --set optim.accum_steps=1 --set train.max_steps=$steps --set log.every=1 --set log.progress=false
step finetune 90 c2fmae_finetune "${ft_cfg[@]}" "${synthetic[@]}" --output-dir "$out/ft" \
  --pretrained "$out/pre/latest.pt" --set train.device=$device --set train.precision=$precision \
  --set data.batch_size=$batch --set optim.accum_steps=1 --set train.max_steps=10 \
  --set finetune.synthetic_val_samples=$batch --set log.every=1 --set log.progress=false
step bench_recipe 60 c2fmae_bench "${c2f_cfg[@]}" "${synthetic[@]}" --batch $batch --device $device \
  "${bench_short[@]}"
{
  for run in pre ft; do
    echo "== $run: loss lines"
    grep -h " loss " "$out/$run/train.log" 2>/dev/null | tail -40
    echo "== $run: memory_gib of the last step"
    tail -1 "$out/$run/metrics.jsonl" 2>/dev/null | grep -o '"memory_gib": [0-9.e+-]*'
  done
} > "$out/programs.txt"

# 4. Ours against the compiled Python reference, one after the other on the same GPU
#    (tools/bench_vs_python.sh: the JSON lines and the ratio table).
# 5. A Kineto profile of 10 of our steps (MAE ViT-B/16 at the benchmark's batch), and its top
#    25 kernels by time (on the CPU: operators).
step profile_ours 90 c2fmae_bench "${mae_cfg[@]}" "${synthetic[@]}" --batch $bench_batch \
  --device $device --warmup 2 --windows 1 --window-steps 1 --profile "$out/profile" \
  --profile-steps 10
"$python" - "$out/profile" > "$out/profile_ours.txt" 2>&1 <<'PY'
import collections, json, pathlib, sys
for trace in sorted(pathlib.Path(sys.argv[1]).glob("*.trace.json")):
    events = json.loads(trace.read_text()).get("traceEvents", [])
    kernels = [e for e in events if e.get("cat") == "kernel"]
    kind = "kernels"
    if not kernels:
        kernels, kind = [e for e in events if e.get("cat") == "cpu_op"], "CPU operators"
    total = collections.Counter()
    count = collections.Counter()
    for e in kernels:
        total[e.get("name", "?")] += float(e.get("dur", 0))
        count[e.get("name", "?")] += 1
    whole = sum(total.values()) or 1.0
    print("%s: top 25 %s of %d, %.1f ms in all (10 steps)" % (trace.name, kind, len(kernels), whole / 1000))
    for name, us in total.most_common(25):
        print("%9.2f ms %5.1f %% %6d x  %s" % (us / 1000, 100 * us / whole, count[name], name[:110]))
PY
if [[ "$dry" == 1 ]]; then
  step bench_ours 120 c2fmae_bench "${mae_cfg[@]}" "${synthetic[@]}" --batch $bench_batch \
    --device $device "${bench_short[@]}"
  echo "ratio: not run (py_mae_ref.py is CUDA only)" | tee -a "$summary"
else
  (cd "$out" && step ratio 330 "$root/tools/bench_vs_python.sh" --batch $bench_batch \
    --bench "$bundle/bin/c2fmae_bench" --reference "$bundle/py_mae_ref.py" --python "$python")
  # 5. torch.profiler on the reference, beside ours: the top 25 CUDA kernels (eager MAE ViT-B/16).
  step profile_reference 60 "$python" - "$bundle/py_mae_ref.py" <<'PY'
import runpy, sys, torch
from torch.profiler import profile, ProfilerActivity
ref = runpy.run_path(sys.argv[1])  # not as __main__: only its definitions
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    result = ref["bench"]("mae", False, 256, 10, 3)  # 3 warm-up steps, then 3 x 10
print(result)
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25))
PY
fi
echo "gpu_check.sh: done in $((SECONDS - start)) s; $out/summary.txt:" && cat "$summary"
