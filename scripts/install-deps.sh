#!/usr/bin/env bash
# Installs, from Debian 12's own packages, what kcc needs to build, test and benchmark.
# Idempotent: does nothing when everything is there; uses sudo only when not root.
set -euo pipefail

packages=(
  # build
  build-essential cmake git
  llvm-19-dev libclang-19-dev clang-19 lld-19 libzstd-dev  # LLVM 19 (kcc's code generator)
  libfmt-dev nlohmann-json3-dev                            # formatting, .kreg registry JSON
  libonnx-dev libprotobuf-dev                              # frontend/: ONNX models (onnx_proto)
  # test
  libgtest-dev
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # AArch64 runs
  python3-onnx python3-torch python3-torchvision           # test/frontend: models made at test time
  # tuner
  libsqlite3-dev libxgboost-dev xgboost
  # benchmarks (peers, not dependencies of kcc)
  libbenchmark-dev libopenblas-dev libdnnl-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
