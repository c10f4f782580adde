#!/usr/bin/env bash
# Builds kcc and runs its whole test suite:
#   scripts/test.sh            build in ./build
#   BUILD_DIR=... JOBS=... scripts/test.sh
# Extra arguments go to ctest (e.g. -L package, -R parser).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

"$root/scripts/install-deps.sh"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DLLVM_DIR=/usr/lib/llvm-19/lib/cmake/llvm
cmake --build "$build" --parallel "$jobs"
cd "$build"
ctest --output-on-failure --parallel "$jobs" "$@"
