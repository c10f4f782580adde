#!/usr/bin/env bash
# bench/gpu/run.sh: build bench_gpu (-DKCC_BUILD_GPU_BENCH=ON), run it and peers.py (cuBLAS/cuDNN
# through PyTorch), and print kcc / peer GFLOP/s ratios side by side. Run from anywhere on a machine
# with an NVIDIA GPU, its driver, LLVM 19 and PyTorch.
#   BUILD_DIR   build folder (default build-gpu-bench)
#   REGISTRY    a .kreg of tuned GPU schedules to build with instead of gpu.ir's hand schedules
#   GPU_ARCH    sm_90 (default) or another NVPTX architecture
#   REPS        timed samples per kernel (default 11, at least 5)
#   JOBS        build parallelism (default nproc)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-gpu-bench}
reps=${REPS:-11}
cfg=(-DKCC_BUILD_GPU_BENCH=ON -DKCC_BUILD_TESTS=OFF -DKCC_GPU_BENCH_ARCH="${GPU_ARCH:-sm_90}")
if [[ -n "${REGISTRY:-}" ]]; then cfg+=(-DKCC_GPU_BENCH_REGISTRY="$(realpath "$REGISTRY")"); fi

cmake -S "$root" -B "$build" "${cfg[@]}" >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target bench_gpu

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== kcc (bench_gpu)"
status=0
"$build/bench/gpu/bench_gpu" --reps "$reps" "$@" | tee "$out/kcc.txt" || status=1
echo "== cuBLAS / cuDNN (peers.py)"
python3 "$root/bench/gpu/peers.py" --reps "$reps" "$@" | tee "$out/peers.txt" || status=1

echo "== ratios (GFLOP/s)"
awk '
  FNR == 1 { file++ }
  $1 == "RESULT" && file == 1 { kcc[$3] = $4; order[++n] = $3 }
  $1 == "RESULT" && file == 2 { peer[$3] = $4; who[$3] = $2 }
  END {
    if (n == 0) { print "no kcc results (skipped?)"; exit }
    printf "%-20s %10s %10s %-7s %8s\n", "kernel", "kcc", "peer", "peer", "kcc/peer"
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (k in peer && peer[k] > 0)
        printf "%-20s %10.1f %10.1f %-7s %7.1f%%\n", k, kcc[k], peer[k], who[k], 100 * kcc[k] / peer[k]
      else
        printf "%-20s %10.1f %10s %-7s %8s\n", k, kcc[k], "-", "-", "-"
    }
  }' "$out/kcc.txt" "$out/peers.txt"
exit $status
