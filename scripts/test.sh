#!/usr/bin/env bash
# Sets up and builds c2fmae (scripts/setup.sh), then runs the whole test suite with CTest.
# Extra arguments go to ctest, e.g. scripts/test.sh -L Pretrain (a suite's shards), -R Config.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${C2FMAE_BUILD_DIR:-build}"
scripts/setup.sh
tests_start=$SECONDS
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${C2FMAE_JOBS:-$(nproc)}" \
  --output-junit ctest-junit.xml "$@"
# C2FMAE_CHECK_BUDGET=1 (.ci/run): the time budget (scripts/check_budget.py) fails CI when
# the build or one entry runs over it. The tests' total only warns: the same commit's tests
# took 224 to 281 s in fresh clones here (the VM's host load), and CI's machine runs about
# 1.25 times slower, too close to the 360 s budget for a gate that must not fail on noise.
if [[ "${C2FMAE_CHECK_BUDGET:-}" == 1 ]]; then
  python3 scripts/check_budget.py --build-seconds "$(cat "$BUILD_DIR/build-seconds")" \
    --tests-seconds $((SECONDS - tests_start)) --junit "$BUILD_DIR/ctest-junit.xml" \
    --fail-on build,entry
fi
