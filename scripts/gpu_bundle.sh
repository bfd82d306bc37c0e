#!/usr/bin/env bash
# Collects into one git-ignored folder (gpu_bundle/) everything the GPU host lacks, so that
# scripts/gpu_check.sh runs there without a build (DESIGN.md §5: Ubuntu 24.04 with torch
# 2.11.0+cu130, no CLI11, no gloo headers, no GoogleTest, no network):
#
#   scripts/gpu_bundle.sh [--build DIR] [--out gpu_bundle] [--no-check]
#
# - bin/: our programs and the test binary, from a Release build (scripts/setup.sh builds
#   it; our code has no kernels of its own, so the build is the one for every CUDA card:
#   LibTorch's kernels come from the host's torch), stripped;
# - lib/: the shared libraries they need that are neither LibTorch's (the host's torch and its
#   nvidia-* wheels provide them) nor Ubuntu 24.04's base system (glibc, libstdc++, libgcc_s,
#   zlib, bzip2): Debian 12's yaml-cpp 0.7, spdlog 1.10 and fmt 9 have other sonames there,
#   libjpeg.so.62, libzip.so.4, libpng16 and libcrypto come along too;
# - py_mae_ref.py (../shared/bench) and env.sh, which sets LD_LIBRARY_PATH on the host from
#   `python3 -c 'import torch'` (torch/lib and the nvidia-* libraries) and lib/; the
#   programs' RUNPATH (this machine's venv) is removed (patchelf).
#
# It prints the bundle's size in MiB and fails over 60 MiB (the device tool carries 64 MiB).
# Then, unless --no-check, it proves the bundle self-contained: a copy of it runs every
# program's --help and a 2-step CPU pre-training with LD_LIBRARY_PATH set only to the copy's
# lib/ and the venv's torch libraries, while the build tree is moved away; `ldd` lists what
# is left unresolved (nothing, or the check fails).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${C2FMAE_BUILD_DIR:-$root/build}" out="$root/gpu_bundle" check=1
python="${C2FMAE_VENV:-$root/.venv}/bin/python"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-check) check=0; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_bundle.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$build" in /*) ;; *) build="$root/$build" ;; esac
[[ -x "$build/tools/c2fmae_pretrain" && -x "$build/tests/c2fmae_tests" ]] || {
  echo "gpu_bundle.sh: no build in $build: run scripts/setup.sh (C2FMAE_BUILD_DIR=$build) first" >&2
  exit 2
}
torch_lib=$("$python" -c 'import torch, os; print(os.path.join(torch.__path__[0], "lib"))')
site=$(dirname "$(dirname "$torch_lib")")
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
for f in "$build"/tools/c2fmae_*; do
  [[ -x "$f" && ! -d "$f" ]] && cp "$f" "$out/bin/"
done
cp "$build/tests/c2fmae_tests" "$out/bin/"
strip --strip-unneeded "$out"/bin/*
# The build's RUNPATH names this machine's venv and CUDA toolkit: without it the programs find
# LibTorch through LD_LIBRARY_PATH alone, here as on the host (patchelf: Debian's patchelf).
if command -v patchelf >/dev/null; then
  for f in "$out"/bin/*; do patchelf --remove-rpath "$f"; done
else
  echo "gpu_bundle.sh: warning: no patchelf (apt install patchelf): the programs keep the build's RUNPATH" >&2
fi
# The libraries to carry: every resolved dependency outside torch, the nvidia wheels, the
# CUDA toolkit and Ubuntu's base system.
# (The CUDA runtime, cuBLAS and the rest come with the host's torch: its nvidia/cu13 wheel.)
base='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libutil|libstdc\+\+|libgcc_s|libz|libbz2|libcudart|libcublas|libcublasLt|libnccl|libcudnn)\.so'
for f in "$out"/bin/*; do
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  case "$path" in "$torch_lib"/*|"$site"/nvidia/*|/usr/local/cuda*) continue ;; esac
  [[ "$name" =~ $base ]] && continue
  cp -L "$path" "$out/lib/$name"
done
# The test binary reads configs and fixtures from the tree it was built from: gpu_check.sh
# links that path to the repository on the host.
echo "$root" > "$out/source_dir"
reference="$root/../shared/bench/py_mae_ref.py"
[[ -f "$reference" ]] && cp "$reference" "$out/"
cat > "$out/env.sh" <<'ENV'
# Source me on the GPU host: LibTorch from the host's torch, our libraries from this bundle.
bundle_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The python whose torch provides LibTorch (GPU_CHECK_PYTHON, default python3).
torch_lib=$("${GPU_CHECK_PYTHON:-python3}" -c 'import torch, os; print(os.path.join(torch.__path__[0], "lib"))')
nvidia_libs=$(ls -d "$(dirname "$(dirname "$torch_lib")")"/nvidia/*/lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$bundle_dir/lib:$torch_lib:${nvidia_libs}${LD_LIBRARY_PATH:-}"
export PATH="$bundle_dir/bin:$PATH"
ENV
mib=$(du -sm "$out" | cut -f1)
echo "gpu_bundle.sh: $out: ${mib} MiB ($(ls "$out/bin" | wc -l) programs, $(ls "$out/lib" | wc -l) libraries: $(ls "$out/lib" | tr '\n' ' '))"
if ((mib > 60)); then
  echo "gpu_bundle.sh: the bundle is over 60 MiB (the device tool carries 64 MiB in all)" >&2
  exit 1
fi
((check)) || exit 0

# Self-contained: a copy, only its lib/ and the venv's torch libraries, the build moved away.
copy=$(mktemp -d)
away="$build.moved-away.$$"
restore() { [[ -d "$away" ]] && mv "$away" "$build"; rm -rf "$copy"; }
trap restore EXIT
cp -a "$out/." "$copy/"
mv "$build" "$away"
nvidia_libs=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | tr '\n' ':')
path="$copy/lib:$torch_lib:$nvidia_libs"
unresolved=$(for f in "$copy"/bin/*; do env -i LD_LIBRARY_PATH="$path" ldd "$f" | grep "not found" | sed "s|^|$(basename "$f"): |" || true; done)
echo "gpu_bundle.sh: ldd with LD_LIBRARY_PATH = the copy's lib/ and the venv's torch: ${unresolved:-nothing unresolved}"
[[ -z "$unresolved" ]] || exit 1
for f in "$copy"/bin/c2fmae_*; do
  [[ "$(basename "$f")" == c2fmae_tests ]] && continue
  env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$path" "$f" --help >/dev/null 2>&1 ||
    { echo "gpu_bundle.sh: $(basename "$f") --help failed from the copy" >&2; exit 1; }
done
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$path" OMP_NUM_THREADS=2 "$copy/bin/c2fmae_pretrain" \
  --config "$root/configs/debug/tiny.yaml" --output-dir "$copy/run" --set train.max_steps=2 \
  --set train.device=cpu > "$copy/run.log" 2>&1 ||
  { tail -5 "$copy/run.log" >&2; echo "gpu_bundle.sh: c2fmae_pretrain failed from the copy" >&2; exit 1; }
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$path" "$copy/bin/c2fmae_tests" \
  --gtest_filter='ZipChecksums.*:InputFile.*' > "$copy/tests.log" 2>&1 ||
  { tail -5 "$copy/tests.log" >&2; echo "gpu_bundle.sh: c2fmae_tests failed from the copy" >&2; exit 1; }
echo "gpu_bundle.sh: self-contained: every program's --help, a 2-step pre-training and unit tests ran from a copy with the build tree moved away"
