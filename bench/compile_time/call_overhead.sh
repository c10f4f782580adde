#!/bin/sh
# bench/compile_time/call_overhead.sh KCC RUNTIME_LIB [OUT_DIR]
# Compiles call_overhead.ir with KCC (a kcc binary), links call_overhead.c against it and
# RUNTIME_LIB (libkcc_runtime.a), and runs it: the time of one call of a tiny and of a real
# kernel. To compare two kcc builds, run it for each, alternating, on an otherwise idle machine.
set -e
kcc=$1
runtime=$2
out=${3:-/tmp/kcc_call_overhead}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$kcc" ] && [ -f "$runtime" ] || { echo "usage: $0 KCC RUNTIME_LIB [OUT_DIR]" >&2; exit 2; }
mkdir -p "$out"
"$kcc" compile "$here/call_overhead.ir" -o "$out/kernels"
cc -O2 -o "$out/call_overhead" "$here/call_overhead.c" "$out/kernels.o" "$runtime" -lpthread -lm
"$out/call_overhead"
