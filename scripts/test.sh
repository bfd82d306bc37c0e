#!/usr/bin/env bash
# Sets up and builds c2fmae (scripts/setup.sh), then runs the whole test suite with CTest.
# Extra arguments go to ctest, e.g. scripts/test.sh -R Curriculum.
set -euo pipefail

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
ctest --test-dir "${C2FMAE_BUILD_DIR:-build}" --output-on-failure -j "${C2FMAE_JOBS:-$(nproc)}" "$@"
