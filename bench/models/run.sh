#!/usr/bin/env bash
# bench/models/run.sh - whole models, batch 1, fp32: kcc against PyTorch, ONNX Runtime and
# OpenVINO in one run, then a per-kernel profile of kcc's ResNet-50. Prints markdown.
#
#   bench/models/run.sh [--build DIR] [--kcc PATH] [--db PATH ...] [--models a,b,...]
#                       [--threads 1,2] [--rounds N] [--per-round N] [--warmup N] [--no-profile]
#                       [--profile-threads 1,2]
#
#   --build DIR   kcc's build folder (default build): kcc, libkcc_runtime.a, and the work folder
#                 DIR/bench/models (venv, models, objects, outputs)
#   --kcc PATH    the kcc to compile with (default DIR/tools/kcc)
#   --db PATH     a tuning database whose records kcc compile uses: a row "kcc tuned (NAME.db)"
#                 beside the "kcc untuned" one (an empty database: every kernel gets kcc's default
#                 schedule), timed in the same run; may be given several times
#   --models      default resnet50,resnet18,mobilenet_v2,vgg16,bert_layer (export_models.py names)
#   --rounds/--per-round/--warmup  see bench.py (default 4 x 5 timed inferences after 3)
#   --profile-threads  the thread counts of step (5)'s profile (default 1)
#
# Steps: (1) a venv in the work folder, --system-site-packages over /usr/bin/python3 (Debian's
# torch 1.13), with onnxruntime and openvino from PyPI; (2) the models exported by
# test/e2e/export_models.py (random weights, seed 0), kept between runs; (3) `kcc compile
# MODEL.onnx --db DB --threads T` and harness.c linked per model, kcc variant and thread
# count; (4) bench.py times every peer, interleaved; (5) profile.c times each kernel of
# ResNet-50 alone, alone with its weights evicted, and in the model's order, per kcc variant and
# profile thread count, and ort_layers.py puts ONNX Runtime's time per layer beside it. Nothing here is a dependency of kcc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build kcc= dbs=() models=resnet50,resnet18,mobilenet_v2,vgg16,bert_layer
threads=1,2 rounds=4 per_round=5 warmup=3 profile=1 profile_threads=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath "$2"); shift 2 ;;
    --kcc) kcc=$(realpath "$2"); shift 2 ;;
    --db) dbs+=("$(realpath "$2")"); shift 2 ;;
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --per-round) per_round=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --no-profile) profile=0; shift ;;
    --profile-threads) profile_threads=$2; shift 2 ;;
    *) echo "run.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
kcc=${kcc:-$build/tools/kcc}
runtime_lib=$build/runtime/libkcc_runtime.a
work=$build/bench/models
cc=${CC:-cc}
for f in "$kcc" "$runtime_lib"; do [ -f "$f" ] || { echo "run.sh: $f missing: build kcc and kcc_runtime" >&2; exit 1; }; done
mkdir -p "$work"
rm -f "$work/empty.db"
# kcc variants: work subfolder, database, label
variants=("kcc-untuned|$work/empty.db|kcc untuned")
for db in "${dbs[@]}"; do
  [ -f "$db" ] || { echo "run.sh: no database $db" >&2; exit 1; }
  b=$(basename "$db" .db)
  variants+=("kcc-$b|$db|kcc tuned ($b.db)")
done
log() { echo "-- $*" >&2; }

# (1) the venv
venv=$work/venv
if ! "$venv/bin/python" -c 'import onnxruntime, openvino' 2>/dev/null; then
  log "making $venv (onnxruntime, openvino from PyPI)"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q onnxruntime openvino >&2
fi
py=$venv/bin/python

# (2) the models
mkdir -p "$work/models"
IFS=, read -r -a names <<<"$models"
need=()
for m in "${names[@]}"; do
  [ -f "$work/models/$m.onnx" ] && [ -f "$work/models/$m.out" ] && [ "$work/models/$m.out" -nt "$root/test/e2e/export_models.py" ] ||
    need+=("$m")
done
if [ ${#need[@]} -gt 0 ]; then
  log "exporting ${need[*]}"
  "$py" "$root/test/e2e/export_models.py" "$work/models" "${need[@]}" >&2
fi

# (3) kcc's objects and harnesses, per variant and thread count: `kcc compile --threads T`
# takes the records tuned on T threads first (decision 36), so each column gets its own object
IFS=, read -r -a counts <<<"$threads"
IFS=, read -r -a profile_counts <<<"$profile_threads"
kcc_args=()
for v in "${variants[@]}"; do
  IFS='|' read -r sub db label <<<"$v"
  kcc_args+=(--kcc "$sub=$label")
  for m in "${names[@]}"; do
    up=$(echo "$m" | tr a-z A-Z)
    for t in $(printf '%s\n' "${counts[@]}" "${profile_counts[@]}" | sort -un); do
      dir=$work/$sub/$m/t$t
      mkdir -p "$dir"
      log "kcc compile $m.onnx --db $db --threads $t"
      "$kcc" compile "$work/models/$m.onnx" --db "$db" --threads "$t" -o "$dir/$m" >"$dir/compile.log" 2>&1 ||
        { tail -20 "$dir/compile.log" >&2; exit 1; }
      "$cc" -O2 -I"$dir" -I"$root/runtime" -DMODEL="$m" -DMODEL_UP="$up" "$root/bench/models/harness.c" "$dir/$m.o" \
        "$runtime_lib" -lpthread -lm -o "$work/$sub/$m/harness-t$t"
    done
  done
done

# (4) the peers, side by side
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -1)
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kcc: commit $commit${dirty:+ (with uncommitted changes)}, $("$kcc" --version 2>&1 | head -1); variants: ${#variants[@]}"
"$py" "$root/bench/models/bench.py" drive --work "$work" --models "$models" --threads "$threads" \
  --rounds "$rounds" --per-round "$per_round" --warmup "$warmup" "${kcc_args[@]}"

# (5) per-kernel profile of ResNet-50, per variant: each kernel alone (hot, then with its
# weights evicted), and the model's calls replayed in order; then ONNX Runtime's time per layer
# (its profiler) beside kcc's in-sequence time
if [ "$profile" = 1 ] && [[ ",$models," == *,resnet50,* ]]; then
  # Imported for the target kcc compiled for, so that the kernel names (blocked layouts) match.
  "$kcc" import --target host "$work/models/resnet50.onnx" -o "$work/resnet50.import.ir" >/dev/null
  for v in "${variants[@]}"; do
    IFS='|' read -r sub db label <<<"$v"
    for t in "${profile_counts[@]}"; do
      dir=$work/$sub/resnet50/t$t
      "$cc" -O2 -I"$dir" -I"$root/runtime" -DMODEL=resnet50 -DMODEL_UP=RESNET50 "$root/bench/models/profile.c" \
        "$dir/resnet50.o" "$runtime_lib" -lpthread -lm -o "$dir/profile"
      echo "### Per-kernel profile: $label ResNet-50, $t thread(s) (each kernel alone, alone with its weights evicted, and in the model's order; median of 11), top 15"
      echo
      "$dir/profile" "$work/resnet50.import.ir" "$t" 11 15 | tee "$dir/profile.md"
      echo
      echo "### $label ResNet-50 against ONNX Runtime per layer, $t thread(s) (bench/models/ort_layers.py)"
      echo
      "$py" "$root/bench/models/ort_layers.py" "$work/models/resnet50.onnx" "$t" 10 --profile-out "$dir/profile.md"
      echo
    done
  done
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
