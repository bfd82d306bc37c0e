# shellcheck shell=bash
# What the launchers in this folder share; sourced (not run) by local.sh and multinode.sh
# after `set -euo pipefail`. Defines REPO, BIN (checked), die, gpu_count, find_torchrun
# and torchrun_signal_args.

die() {
  echo "launch: $*" >&2
  exit 2
}

# The repository (two folders above this file) and the program every process runs.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${C2FMAE_BIN:-$REPO/build/tools/c2fmae_pretrain}"
[[ -f "$BIN" && -x "$BIN" ]] ||
  die "no executable program at $BIN (build it: scripts/setup.sh, or set C2FMAE_BIN)"

# GPUs this process may use: entries of CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`
# GPU lines (MIG lines not counted), else 0.
gpu_count() {
  if [[ -n "${CUDA_VISIBLE_DEVICES+set}" ]]; then
    local -a ids=()
    IFS=',' read -r -a ids <<<"$CUDA_VISIBLE_DEVICES"
    echo "${#ids[@]}"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    { nvidia-smi -L 2>/dev/null || true; } | grep -c '^GPU' || true
  else
    echo 0
  fi
}

# Prints the torchrun to use: TORCHRUN, else torchrun on PATH, else the repository's venv's
# (printed even if missing; the caller checks).
find_torchrun() {
  if [[ -n "${TORCHRUN:-}" ]]; then
    echo "$TORCHRUN"
  elif command -v torchrun >/dev/null 2>&1; then
    command -v torchrun
  else
    echo "$REPO/.venv/bin/torchrun"
  fi
}

# Sets the array `signals` to torchrun's --signals-to-handle option when torchrun ($1) has it
# (torch >= 2.7): it forwards the signals named there to the processes, and its default list
# lacks SIGUSR2, on which the processes checkpoint and stop as Slurm's --signal sends it.
# shellcheck disable=SC2034  # `signals` is read by the caller
torchrun_signal_args() {
  signals=()
  local help
  help="$("$1" --help 2>/dev/null || true)"
  if [[ "$help" == *--signals-to-handle* ]]; then
    signals=(--signals-to-handle 'SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR2')
  fi
}
