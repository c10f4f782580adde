#!/bin/bash
# test/aarch64/run_int_suite.sh GEN TARGET OUTDIR SRCDIR CROSS_CC RUNTIME_A QEMU SYSROOT CPU...
# Generates the integer-reduction suite for TARGET (one object, data and expected outputs in C),
# links it with the AArch64 runtime and runs it under qemu-aarch64 once per CPU model given.
set -euo pipefail
gen=$1 target=$2 out=$3 src=$4 cc=$5 rt=$6 qemu=$7 sysroot=$8
shift 8
"$gen" "$target" "$out" "${KCC_SUITE_RANDOM:-4}"
"$cc" -O1 -std=c11 -I"$src/test/aarch64" -o "$out/int_suite" "$src/test/aarch64/int_suite_main.c" \
  "$out/int_suite_table.c" "$out/int_suite.o" "$rt" -lm -pthread
status=0
for cpu in "$@"; do
  echo "== $target under qemu-aarch64 -cpu $cpu"
  if ! KCC_NUM_THREADS=2 "$qemu" -L "$sysroot" -cpu "$cpu" "$out/int_suite"; then
    echo "FAILED: $target at -cpu $cpu"
    status=1
  fi
done
exit $status
