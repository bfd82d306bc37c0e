#!/usr/bin/env bash
# Starts c2fmae_pretrain on this node as NPROC processes (one per GPU) and passes every
# argument to each of them unchanged. Each process reads its place in the job from RANK,
# WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT; rank 0 hosts the
# store at MASTER_ADDR:MASTER_PORT.
#
# torchrun (found on PATH, else <repo>/.venv/bin/torchrun) is used when present:
#   torchrun --no-python --standalone --nproc-per-node NPROC --max-restarts MAX_RESTARTS \
#     [--signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR2] BIN ARGS...
# After a failure torchrun stops the other processes and starts all NPROC again, up to
# MAX_RESTARTS times: put --resume auto among the arguments so that a restart continues from
# the latest checkpoint rather than from step 0. Its exit status is 0, or 1 when a process
# failed or was stopped. torchrun sets OMP_NUM_THREADS=1 when it is unset.
# Without torchrun, or with C2FMAE_LAUNCHER=bash, this script starts the NPROC processes
# itself: it forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR2 to all of them, waits for
# all, and exits with the first non-zero exit status among them (0 if all succeeded). Once
# one has failed, the others get C2FMAE_GRACE_S seconds to stop on their own (they notice a
# dead peer within dist.timeout_s), then SIGTERM, then SIGKILL C2FMAE_KILL_S seconds later.
# It never restarts.
#
# Environment [default]:
#   NPROC            processes [the GPUs: entries of CUDA_VISIBLE_DEVICES if set, else
#                    lines of `nvidia-smi -L`; 1 when there are none]
#   C2FMAE_BIN       the program [<repo>/build/tools/c2fmae_pretrain]
#   C2FMAE_LAUNCHER  auto, torchrun or bash [auto: torchrun when found, else bash]
#   TORCHRUN         the torchrun to use [torchrun on PATH, else <repo>/.venv/bin/torchrun]
#   MAX_RESTARTS     torchrun: restarts of all processes after a failure [0]
#   MASTER_ADDR      bash: address of rank 0's store [127.0.0.1]
#   MASTER_PORT      bash: port of rank 0's store [a free port, else 29500]
#   C2FMAE_GRACE_S   bash: seconds the others get once a process has failed [60]
#   C2FMAE_KILL_S    bash: seconds from that SIGTERM to SIGKILL [30]
#
# Example: 4 GPUs, up to 3 restarts, each continuing from the latest checkpoint
#   NPROC=4 MAX_RESTARTS=3 tools/launch/local.sh \
#     --config configs/pretrain/c2fmae_vit_base_400ep.yaml --resume auto
# Exit status 2 with a "launch: ..." message: the program is missing or a setting is invalid.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

# shellcheck source=tools/launch/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ -z "${NPROC:-}" ]]; then
  NPROC="$(gpu_count)"
  [[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || NPROC=1
fi
[[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || die "NPROC=$NPROC: expected a positive whole number"

LAUNCHER="${C2FMAE_LAUNCHER:-auto}"
case "$LAUNCHER" in
  auto | torchrun | bash) ;;
  *) die "C2FMAE_LAUNCHER=$LAUNCHER: expected auto, torchrun or bash" ;;
esac

# --- torchrun -------------------------------------------------------------------------------
TR=""
if [[ "$LAUNCHER" != bash ]]; then
  TR="$(find_torchrun)"
  if [[ ! -x "$TR" ]]; then
    [[ -n "${TORCHRUN:-}" ]] && die "TORCHRUN=$TR is not an executable"
    TR=""
  fi
  if [[ -z "$TR" && "$LAUNCHER" == torchrun ]]; then
    die "C2FMAE_LAUNCHER=torchrun but no torchrun on PATH nor at $REPO/.venv/bin/torchrun"
  fi
fi

if [[ -n "$TR" ]]; then
  MAX_RESTARTS="${MAX_RESTARTS:-0}"
  [[ "$MAX_RESTARTS" =~ ^[0-9]+$ ]] || die "MAX_RESTARTS=$MAX_RESTARTS: expected a whole number >= 0"
  torchrun_signal_args "$TR"
  echo "launch: $NPROC process$( ((NPROC == 1)) || echo es) with torchrun --standalone (store on a free local port)," \
    "max restarts $MAX_RESTARTS: $BIN" >&2
  exec "$TR" --no-python --standalone --nproc-per-node "$NPROC" \
    --max-restarts "$MAX_RESTARTS" ${signals[@]+"${signals[@]}"} "$BIN" "$@"
fi

# --- plain bash -----------------------------------------------------------------------------
GRACE_S="${C2FMAE_GRACE_S:-60}"
KILL_S="${C2FMAE_KILL_S:-30}"
[[ "$GRACE_S" =~ ^[0-9]+$ ]] || die "C2FMAE_GRACE_S=$GRACE_S: expected whole seconds >= 0"
[[ "$KILL_S" =~ ^[0-9]+$ ]] || die "C2FMAE_KILL_S=$KILL_S: expected whole seconds >= 0"

free_port() {
  local py
  for py in python3 "$REPO/.venv/bin/python3" python; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket
s = socket.socket()
s.bind(("", 0))
print(s.getsockname()[1])' 2>/dev/null && return 0
    fi
  done
  echo 29500
}

MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-$(free_port)}"
if ! [[ "$MASTER_PORT" =~ ^[0-9]+$ ]] || ((MASTER_PORT < 1 || MASTER_PORT > 65535)); then
  die "MASTER_PORT=$MASTER_PORT: expected a port number in [1, 65535]"
fi
# A launch by hand owns the job: nothing of an enclosing torchrun (its agent store, its restart
# count) may leak into the processes.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^TORCHELASTIC_' || true)

pids=()        # the processes, by rank
finished=()    # rank -> 1 once reaped
status=0       # the first non-zero exit status
failed_at=""   # $SECONDS when the first process failed
termed_at=""   # $SECONDS when the survivors were sent SIGTERM
killed=""      # 1 once the survivors were sent SIGKILL
signals_seen=0 # bumped by every forwarded signal

# shellcheck disable=SC2317  # called from the traps below
forward() {
  local sig="$1" r
  signals_seen=$((signals_seen + 1))
  echo "launch: got SIG$sig, passing it to the running processes" >&2
  for r in "${!pids[@]}"; do
    [[ -n "${finished[r]:-}" ]] || kill -s "$sig" "${pids[r]}" 2>/dev/null || true
  done
}
for sig in TERM INT HUP QUIT USR2; do
  # shellcheck disable=SC2064  # $sig is meant to be expanded now
  trap "forward $sig" "$sig"
done

# Each process gets its own session, as under torchrun: a Ctrl-C at the terminal reaches only
# this script, which passes it on once. SIGINT and SIGQUIT, which bash ignores in background
# commands, are reset so the program can act on them.
setsid_cmd=()
command -v setsid >/dev/null 2>&1 && setsid_cmd=(setsid)

# rank_process RANK ARGS...: runs in a background subshell and becomes that rank's process.
rank_process() {
  trap - INT QUIT TERM HUP USR2
  export RANK="$1" WORLD_SIZE="$NPROC" LOCAL_RANK="$1" LOCAL_WORLD_SIZE="$NPROC" \
    MASTER_ADDR MASTER_PORT C2FMAE_JOB_ID="$job_id"
  shift
  exec ${setsid_cmd[@]+"${setsid_cmd[@]}"} "$BIN" "$@"
}

# The job's id, the same for every rank: the rendezvous refuses a process of another job
# that reached this store (e.g. started with the same MASTER_PORT).
job_id="local $(hostname)-$$-$(date +%s)"
echo "launch: $NPROC process$( ((NPROC == 1)) || echo es) with bash, store $MASTER_ADDR:$MASTER_PORT: $BIN" >&2
for ((r = 0; r < NPROC; r++)); do
  ((signals_seen == 0)) || break # stopped while starting: start no more
  rank_process "$r" "$@" &
  pids[r]=$!
done

running=${#pids[@]}
while ((running > 0)); do
  for r in "${!pids[@]}"; do
    [[ -z "${finished[r]:-}" ]] || continue
    kill -0 "${pids[r]}" 2>/dev/null && continue
    # Reap it; a signal that interrupts `wait` makes it return early, so wait again.
    while :; do
      seen=$signals_seen
      code=0
      wait "${pids[r]}" || code=$?
      ((seen == signals_seen)) && break
    done
    finished[r]=1
    running=$((running - 1))
    if ((code != 0)); then
      echo "launch: rank $r (pid ${pids[r]}) exited with status $code" >&2
      if ((status == 0)); then
        status=$code
        failed_at=$SECONDS
        if ((running > 0 && signals_seen == 0)); then
          echo "launch: the other processes get ${GRACE_S} s to stop (C2FMAE_GRACE_S)" >&2
        fi
      fi
    fi
  done
  ((running > 0)) || break
  if [[ -n "$failed_at" && -z "$termed_at" ]] && ((SECONDS - failed_at >= GRACE_S)); then
    echo "launch: sending SIGTERM to the $running processes still running" >&2
    termed_at=$SECONDS
    for r in "${!pids[@]}"; do
      [[ -n "${finished[r]:-}" ]] || kill -s TERM "${pids[r]}" 2>/dev/null || true
    done
  elif [[ -n "$termed_at" && -z "$killed" ]] && ((SECONDS - termed_at >= KILL_S)); then
    echo "launch: sending SIGKILL to the $running processes still running" >&2
    for r in "${!pids[@]}"; do
      [[ -n "${finished[r]:-}" ]] || kill -s KILL "${pids[r]}" 2>/dev/null || true
    done
    killed=1
  fi
  sleep 0.2 || true # a Ctrl-C at the terminal stops the sleep too
done
exit "$status"
