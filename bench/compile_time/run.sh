#!/bin/sh
# bench/compile_time/run.sh KCC [N ...]
# Compile time and peak memory of `kcc compile` on kernels of N chained stages (gen_stages.py;
# default N: 1000 2000 5000): wall seconds and maximum resident set from /usr/bin/time -v,
# then kcc's own --time-passes table. Not a test: run it on an otherwise idle machine.
set -e
kcc=$1
[ -x "$kcc" ] || { echo "usage: $0 KCC [N ...]" >&2; exit 2; }
shift
here=$(cd "$(dirname "$0")" && pwd)
out=${KCC_BENCH_DIR:-/tmp/kcc_compile_time}
mkdir -p "$out"
[ $# -gt 0 ] || set -- 1000 2000 5000
for n in "$@"; do
  python3 "$here/gen_stages.py" "$n" > "$out/stages_$n.ir"
  /usr/bin/time -v "$kcc" compile "$out/stages_$n.ir" -o "$out/stages_$n" --time-passes 2> "$out/stages_$n.log"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/stages_$n.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/stages_$n.log")
  echo "stages $n: wall $wall, peak RSS $((rss / 1024)) MiB"
  grep -E '^ +[0-9.]+ +[0-9.]+% +(lower|codegen|optimize|emit|total)$' "$out/stages_$n.log" | sed 's/^/    /'
done
