#!/usr/bin/env bash
# Builds kcc, installs it into a local prefix, builds the examples through the installed CMake
# package (find_package(kcc) + kcc_add_kernels / kcc_add_model) and runs them. Each app checks
# its result and prints its speed; the script fails if any app does. resnet: PyTorch exports
# ResNet-18 to ONNX at build time, kcc_add_model compiles it, the app runs it on a 224x224
# picture against PyTorch's output (skipped, saying why, when /usr/bin/python3 lacks torch).
#   scripts/run-example.sh                 all examples (resnet, matmul, mlp, resnet_block)
#   scripts/run-example.sh resnet          one of them
# Folders: build-example/{kcc,prefix,examples} (WORK_DIR=... to move them), JOBS=... for -j.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${WORK_DIR:-$root/build-example}
jobs=${JOBS:-$(nproc)}
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(resnet matmul mlp resnet_block)
for e in "${examples[@]}"; do
  [ -f "$root/examples/$e/app.c" ] || { echo "run-example: no example '$e' in examples/" >&2; exit 2; }
done

"$root/scripts/install-deps.sh"

echo "== building kcc"
cmake -S "$root" -B "$work/kcc" -DCMAKE_BUILD_TYPE=Release \
  -DLLVM_DIR=/usr/lib/llvm-19/lib/cmake/llvm -DKCC_BUILD_TESTS=OFF -DKCC_BUILD_BENCH=OFF >/dev/null
cmake --build "$work/kcc" --parallel "$jobs"   # everything `cmake --install` installs
echo "== installing kcc into $work/prefix"
cmake --install "$work/kcc" --prefix "$work/prefix" >/dev/null

echo "== building the examples against the installed package"
cmake -S "$root/examples" -B "$work/examples" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
skipped() { [ -f "$work/examples/$1/SKIPPED" ]; }
for e in "${examples[@]}"; do
  skipped "$e" || cmake --build "$work/examples" --parallel "$jobs" --target "${e}_app"
done

for e in "${examples[@]}"; do
  echo "== examples/$e"
  if skipped "$e"; then cat "$work/examples/$e/SKIPPED"; else "$work/examples/$e/${e}_app"; fi
done
