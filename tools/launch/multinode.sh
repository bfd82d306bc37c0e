#!/usr/bin/env bash
# Starts this node's share of a c2fmae_pretrain job that spans NNODES nodes: run it once on
# every node, with the same NNODES, RDZV_ENDPOINT, RDZV_ID and arguments. It runs
#   torchrun --no-python --nnodes NNODES --nproc-per-node NPROC_PER_NODE \
#     --rdzv-backend c10d --rdzv-endpoint RDZV_ENDPOINT --rdzv-id RDZV_ID \
#     --max-restarts MAX_RESTARTS [--signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR2] \
#     BIN ARGS...
# and passes every argument to each process unchanged. The torchrun agents meet at
# RDZV_ENDPOINT, a host:port that every node reaches (the agent on that host serves it), and
# number the processes 0 .. NNODES*NPROC_PER_NODE-1; rank 0, which writes the run directory,
# may land on any node, so give --output-dir a directory on a file system all nodes share.
# After a failure on any node all processes stop and start again, up to MAX_RESTARTS times:
# put --resume auto among the arguments so that a restart continues from the latest
# checkpoint. NNODES may be a range MIN:MAX (elastic: a restart may have fewer or more nodes;
# a checkpoint resumes on any world size). torchrun's exit status is 0, or 1 when a process
# failed or was stopped. torchrun sets OMP_NUM_THREADS=1 when it is unset.
#
# Environment [default]:
#   NNODES          nodes, or MIN:MAX [required]
#   RDZV_ENDPOINT   host[:port] of the rendezvous, the same on every node [required]
#   NPROC_PER_NODE  processes on this node [the GPUs: entries of CUDA_VISIBLE_DEVICES if
#                   set, else lines of `nvidia-smi -L`; 1 when there are none]
#   RDZV_ID         the job's name at the rendezvous, the same on every node [c2fmae]
#   MAX_RESTARTS    restarts of all processes after a failure [0]
#   C2FMAE_BIN      the program [<repo>/build/tools/c2fmae_pretrain]
#   TORCHRUN        the torchrun to use [torchrun on PATH, else <repo>/.venv/bin/torchrun]
#   GLOO_SOCKET_IFNAME, NCCL_SOCKET_IFNAME  the network interface (e.g. eth0) [chosen by
#                   Gloo and NCCL]
#
# Example: 2 nodes of 8 GPUs; on each of node-a and node-b run
#   NNODES=2 RDZV_ENDPOINT=node-a:29400 RDZV_ID=vitb-400ep MAX_RESTARTS=3 \
#     tools/launch/multinode.sh --config configs/pretrain/c2fmae_vit_base_400ep.yaml \
#     --output-dir /shared/runs/vitb-400ep --resume auto
# Exit status 2 with a "launch: ..." message: the program or torchrun is missing, or a
# setting is invalid.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

# shellcheck source=tools/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ -n "${NNODES:-}" ]] || die "NNODES is not set: give the number of nodes (e.g. NNODES=2)"
if [[ "$NNODES" =~ ^([1-9][0-9]*):([1-9][0-9]*)$ ]]; then
  ((BASH_REMATCH[1] <= BASH_REMATCH[2])) || die "NNODES=$NNODES: MIN exceeds MAX"
elif ! [[ "$NNODES" =~ ^[1-9][0-9]*$ ]]; then
  die "NNODES=$NNODES: expected a positive whole number or MIN:MAX"
fi
[[ -n "${RDZV_ENDPOINT:-}" ]] ||
  die "RDZV_ENDPOINT is not set: give host:port of the rendezvous, the same on every node (e.g. RDZV_ENDPOINT=node-a:29400)"
if [[ -z "${NPROC_PER_NODE:-}" ]]; then
  NPROC_PER_NODE="$(gpu_count)"
  [[ "$NPROC_PER_NODE" =~ ^[1-9][0-9]*$ ]] || NPROC_PER_NODE=1
fi
[[ "$NPROC_PER_NODE" =~ ^[1-9][0-9]*$ ]] ||
  die "NPROC_PER_NODE=$NPROC_PER_NODE: expected a positive whole number"
RDZV_ID="${RDZV_ID:-c2fmae}"
[[ -n "$RDZV_ID" ]] || die "RDZV_ID is empty"
MAX_RESTARTS="${MAX_RESTARTS:-0}"
[[ "$MAX_RESTARTS" =~ ^[0-9]+$ ]] || die "MAX_RESTARTS=$MAX_RESTARTS: expected a whole number >= 0"

TR="$(find_torchrun)"
[[ -x "$TR" ]] || die "no torchrun (looked for TORCHRUN, torchrun on PATH, $TR); install PyTorch's torchrun or set TORCHRUN"

torchrun_signal_args "$TR"

echo "launch: $NPROC_PER_NODE process$( ((NPROC_PER_NODE == 1)) || echo es) on ${HOSTNAME:-this node} of $NNODES nodes with torchrun," \
  "rendezvous $RDZV_ENDPOINT (id $RDZV_ID), max restarts $MAX_RESTARTS: $BIN" >&2
exec "$TR" --no-python --nnodes "$NNODES" --nproc-per-node "$NPROC_PER_NODE" \
  --rdzv-backend c10d --rdzv-endpoint "$RDZV_ENDPOINT" --rdzv-id "$RDZV_ID" \
  --max-restarts "$MAX_RESTARTS" ${signals[@]+"${signals[@]}"} "$BIN" "$@"
