#!/usr/bin/env bash
# Sets up a fresh Debian machine for c2fmae and builds it: OS packages, the torch==2.11.0
# wheel (it ships LibTorch) in a local virtual environment, then a CMake/Ninja build.
# Safe to re-run: finished steps are skipped.
#
# Environment: C2FMAE_VENV (default .venv), C2FMAE_BUILD_DIR (default build),
#              C2FMAE_JOBS (default: number of cores), C2FMAE_SKIP_APT=1 to skip apt.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${C2FMAE_VENV:-.venv}"
BUILD_DIR="${C2FMAE_BUILD_DIR:-build}"
JOBS="${C2FMAE_JOBS:-$(nproc)}"
TORCH_VERSION="2.11.0"
APT_PACKAGES=(cmake ninja-build g++ python3-venv libyaml-cpp-dev libspdlog-dev libcli11-dev
              libgtest-dev libjpeg62-turbo-dev libpng-dev libgloo-dev libssl-dev libzip-dev
              clang-format)

if [[ "${C2FMAE_SKIP_APT:-0}" != "1" ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing OS packages: ${missing[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $VENV (about a minute, 4.6 GiB)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi

# The timm interop tests build timm ViTs in Python (tests/interop/timm_interop.py), and
# tools/plot_curves.py draws a run's curves with matplotlib; torchvision
# is pinned to the torch release it was built for, so pip keeps torch at $TORCH_VERSION.
PY_TEST_PACKAGES=("torchvision==0.26.0" "timm==1.0.31" "safetensors==0.8.0" "matplotlib==3.11.2")
if ! "$VENV/bin/python" -c "import timm, safetensors, matplotlib, sys; sys.exit(timm.__version__ != '1.0.31' or matplotlib.__version__ != '3.11.2')" 2>/dev/null; then
  echo "setup: installing ${PY_TEST_PACKAGES[*]} into $VENV (for the timm interop tests and tools/plot_curves.py)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" \
    "${PY_TEST_PACKAGES[@]}"
fi

# C2FMAE_SETUP_PHASES=1 (.ci/run): a timestamp where the install and the build end.
stamp() { [[ "${C2FMAE_SETUP_PHASES:-}" == 1 ]] && echo "ci: $(date -u +%H:%M:%S) $1 ($((SECONDS / 60)) min $((SECONDS % 60)) s of set-up)"; return 0; }
stamp "packages and venv ready"
build_start=$SECONDS
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DC2FMAE_PYTHON="$PWD/$VENV/bin/python" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
# The build's seconds, for CI's budget (scripts/check_budget.py).
echo $((SECONDS - build_start)) > "$BUILD_DIR/build-seconds"
stamp "build done"
