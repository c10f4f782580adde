#!/usr/bin/env bash
# test/e2e/test_onnx_models.sh - whole models end to end: PyTorch exports (random weights, fixed
# seed; export_models.py) compiled by `kcc compile MODEL.onnx`, linked into a C program with the
# runtime, run on PyTorch's input and compared with PyTorch's output: max |error| / max |ref|
# <= 1e-4. Host and x86_64-avx2 natively; aarch64-a64fx under qemu (a small ResNet-18, to keep
# the emulator's time sane). Exit 77 (skipped) without python3-torch.
#
# usage: test_onnx_models.sh KCC RUNTIME_LIB RUNTIME_INC WORK PYTHON CC [A64_CC A64_RUNTIME QEMU SYSROOT]
set -u
KCC=$1 RUNTIME_LIB=$2 RUNTIME_INC=$3 WORK=$4 PYTHON=$5 CC=$6
A64_CC=${7:-} A64_RUNTIME=${8:-} QEMU=${9:-} SYSROOT=${10:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1
failures=0
pass() { echo "PASS: $1"; }
fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}

native="resnet18 resnet50 mobilenet_v2 vgg16 bert_layer encoder_layer"
# Channel concatenations (blocked when every input's channels divide by the block), padded
# average pools and ShuffleNet's channel shuffle (views of views), at small inputs for time.
concat="densenet121@64 googlenet@64 inception_v3@96 squeezenet1_0@64 shufflenet_v2_x1_0@64"
"$PYTHON" "$HERE/export_models.py" models $native $concat resnet18@64 mobilenet_v2@64 >export.log 2>&1
status=$?
if [ $status -eq 77 ]; then
  cat export.log
  exit 77
fi
[ $status -eq 0 ] || { sed 's/^/    /' export.log | tail -20; echo "FAIL: export_models.py exited $status"; exit 1; }

# app.c: runs model M (the macro names come from its header) once and compares.
app() {
  local m=$1 up
  up=$(echo "$m" | tr a-z A-Z)
  cat <<C
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "$m.h"
#include "kcc_runtime.h"
static float *load(const char *path, size_t n) {
  float *v = malloc(n * sizeof *v);
  FILE *f = fopen(path, "rb");
  if (!v || !f || fread(v, sizeof *v, n, f) != n) { printf("cannot read %zu floats from %s\n", n, path); exit(2); }
  fclose(f);
  return v;
}
int main(int argc, char **argv) {
  (void)argc;
  float *x = load(argv[1], KCC_${up}_INPUT_SIZE), *ref = load(argv[2], KCC_${up}_OUTPUT_SIZE);
  float *y = malloc(KCC_${up}_OUTPUT_SIZE * sizeof *y);
  int rc = $m(x, y);
  if (rc != 0) { printf("$m returned %d: %s\n", rc, kcc_error_string(rc)); return 1; }
  double err = 0, mag = 0;
  for (size_t i = 0; i < KCC_${up}_OUTPUT_SIZE; ++i) {
    if (!(fabs(y[i] - ref[i]) <= err)) err = fabs(y[i] - ref[i]);  /* NaN-safe: a NaN wins */
    if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
  }
  printf("$m: max error %.3g of max %.3g (relative %.3g)\n", err, mag, err / mag);
  return !(err / mag <= 1e-4);
}
C
}

# check NAME TARGET: compile models/NAME.onnx for TARGET, link, run (under qemu for AArch64).
check() {
  local m=$1 target=$2 dir="$2/$1"
  mkdir -p "$dir"
  if ! "$KCC" compile "models/$m.onnx" --target "$target" --db "$WORK/none.db" -o "$dir/$m" >"$dir/compile.log" 2>&1; then
    fail "$m on $target: kcc compile"; sed 's/^/    /' "$dir/compile.log" | tail -10; return
  fi
  app "$m" >"$dir/app.c"
  local run=()
  case $target in
    aarch64-*)
      "$A64_CC" -O2 -I"$dir" -I"$RUNTIME_INC" "$dir/app.c" "$dir/$m.o" "$A64_RUNTIME" -lpthread -lm -o "$dir/app" \
        >"$dir/link.log" 2>&1 || { fail "$m on $target: link"; sed 's/^/    /' "$dir/link.log" | tail; return; }
      run=("$QEMU" -cpu a64fx -L "$SYSROOT") ;;
    *)
      "$CC" -O2 -I"$dir" -I"$RUNTIME_INC" "$dir/app.c" "$dir/$m.o" "$RUNTIME_LIB" -lpthread -lm -o "$dir/app" \
        >"$dir/link.log" 2>&1 || { fail "$m on $target: link"; sed 's/^/    /' "$dir/link.log" | tail; return; }
      ;;
  esac
  if "${run[@]}" "$dir/app" "models/$m.in" "models/$m.out" >"$dir/run.log" 2>&1; then
    pass "$m on $target matches PyTorch ($(tail -1 "$dir/run.log" | sed 's/.*(//; s/)//'))"
  else
    fail "$m on $target"; sed 's/^/    /' "$dir/run.log" | tail -5
  fi
}

for m in $native; do check "$m" host; done
for m in $concat; do check "${m/@/_}" host; done
check resnet18 x86_64-avx2
check mobilenet_v2 x86_64-avx2
if [ -n "$A64_CC" ] && [ -n "$QEMU" ] && [ -f "$A64_RUNTIME" ]; then
  check resnet18_64 aarch64-a64fx
else
  echo "SKIP: aarch64-a64fx (no cross compiler, qemu-aarch64 or AArch64 runtime)"
fi

# Two models in one program: their kernels are named after their workloads (both have a
# gemm_1x1000, of 512 and of 1280 inputs), so each object prefixes its kernels' symbols.
two_models() {
  cat <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "mobilenet_v2_64.h"
#include "resnet18_64.h"
static float *load(const char *path, size_t n) {
  float *v = malloc(n * sizeof *v);
  FILE *f = fopen(path, "rb");
  if (!v || !f || fread(v, sizeof *v, n, f) != n) { printf("cannot read %zu floats from %s\n", n, path); exit(2); }
  fclose(f);
  return v;
}
static double relative_error(const float *y, const float *ref, size_t n) {
  double err = 0, mag = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(fabs(y[i] - ref[i]) <= err)) err = fabs(y[i] - ref[i]);
    if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
  }
  return err / mag;
}
#define RUN(m, M)                                                                              \
  do {                                                                                         \
    float *x = load("models/" #m ".in", M##_INPUT_SIZE), *ref = load("models/" #m ".out", M##_OUTPUT_SIZE); \
    float *y = malloc(M##_OUTPUT_SIZE * sizeof *y);                                            \
    int rc = m(x, y);                                                                          \
    double e = rc ? 1 : relative_error(y, ref, M##_OUTPUT_SIZE);                               \
    printf(#m ": status %d, relative error %.3g\n", rc, e);                                    \
    bad |= !(e <= 1e-4);                                                                       \
  } while (0)
int main(void) {
  int bad = 0;
  RUN(resnet18_64, KCC_RESNET18_64);
  RUN(mobilenet_v2_64, KCC_MOBILENET_V2_64);
  return bad;
}
C
}
mkdir -p two
for m in resnet18_64 mobilenet_v2_64; do
  "$KCC" compile "models/$m.onnx" --db "$WORK/none.db" -o "two/$m" >"two/$m.log" 2>&1 || { sed 's/^/    /' "two/$m.log" | tail -5; }
done
two_models >two/app.c
if "$CC" -O2 -Itwo -I"$RUNTIME_INC" two/app.c two/resnet18_64.o two/mobilenet_v2_64.o "$RUNTIME_LIB" -lpthread -lm \
     -o two/app >two/link.log 2>&1 && two/app >two/run.log 2>&1; then
  pass "resnet18 and mobilenet_v2 linked into one program both match PyTorch"
else
  fail "resnet18 and mobilenet_v2 linked into one program"; sed 's/^/    /' two/link.log two/run.log 2>/dev/null | tail -8
fi

# The .kreg locks every task: --registry rebuilds the model's object exactly.
if [ -f host/resnet18/resnet18.kreg ]; then
  if "$KCC" compile models/resnet18.onnx --registry host/resnet18/resnet18.kreg -o locked/resnet18 >locked.log 2>&1 &&
     cmp -s host/resnet18/resnet18.o locked/resnet18.o; then
    pass "resnet18 rebuilt from its .kreg gives the same object"
  else
    fail "resnet18 rebuilt from its .kreg gives the same object"; sed 's/^/    /' locked.log | tail -5
  fi
fi
# Tasks are weighted by their calls: ResNet-18's layer1 3x3 conv + relu runs twice per inference.
if "$KCC" report models/resnet18_64.onnx --db "$WORK/none.db" -o report.html >report.log 2>&1 &&
   grep -Eq "conv_64x16x16_k3s1(_[0-9]+c)?_relu</a></td>(<td[^>]*>[^<]*</td>){3}<td data-v='2'>" report.html; then
  pass "a kernel called twice by the model has weight 2"
else
  fail "a kernel called twice by the model has weight 2"; sed 's/^/    /' report.log | tail -5
fi

# The memory plan: ResNet-50's peak workspace within 1.5x of its two largest live activations.
if "$KCC" compile models/resnet50.onnx --emit=memory >memory.txt 2>&1; then
  peak=$(head -1 memory.txt | sed -E 's/.*workspace peak ([0-9]+) bytes.*/\1/')
  two=$(awk 'NR > 2 { print $2 }' memory.txt | sort -n | tail -2 | awk '{ s += $1 } END { print s }')
  if [ -n "$peak" ] && [ -n "$two" ] && [ $((peak * 2)) -le $((two * 3)) ]; then
    pass "resnet50 peak workspace $peak bytes <= 1.5 x the two largest activations ($two bytes)"
  else
    fail "resnet50 peak workspace '$peak' vs the two largest activations '$two'"
  fi
else
  fail "resnet50 --emit=memory"; sed 's/^/    /' memory.txt | tail -5
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
