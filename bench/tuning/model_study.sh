#!/usr/bin/env bash
# bench/tuning/model_study.sh - the seed study at model level: per model, `kcc tune MODEL.onnx`
# with the default hybrid search at H measurements per kernel against evolutionary search at
# F x H, each arm into a database of its own (OUT/hybrid.db, OUT/evolutionary.db: the models of
# one arm share it, so a workload two models have is tuned once per arm); then
# bench/models/run.sh times the untuned models, both arms' and the peers side by side in one
# run. Prints markdown.
#
#   bench/tuning/model_study.sh [--build DIR] [--models resnet18,mobilenet_v2] [--per-task H]
#                               [--factor F] [--threads N] [--out DIR] [--for S] [--no-bench]
#
#   --per-task H  hybrid's measurements per kernel (default 300); the model's budget is H x its
#                 kernels, spread by kcc's task scheduler
#   --factor F    evolutionary's budget is F times hybrid's (default 10)
#   --threads N   threads candidates are timed on (default 1)
#   --out DIR     databases and logs (default DIR/bench/model_study under the build folder)
#   --for S       stop tuning after S seconds (the arm in progress is stopped, stays unfinished
#                 and resumes on the next run); the tables then show where each arm got to
#
# An arm that was interrupted resumes from its database when the script is run again with the
# same arguments (kcc tune picks up an unfinished run); a finished arm (OUT/MODEL-ARM.done) is
# skipped. Each part's wall time is appended to OUT/MODEL-ARM.time. Compare numbers within one
# run only: the machine is shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build models=resnet18,mobilenet_v2 per_task=300 factor=10 threads=1 out= bench=1 for=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath "$2"); shift 2 ;;
    --models) models=$2; shift 2 ;;
    --per-task) per_task=$2; shift 2 ;;
    --factor) factor=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --for) for=$2; shift 2 ;;
    --no-bench) bench=0; shift ;;
    *) echo "model_study.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
kcc=$build/tools/kcc
[ -x "$kcc" ] || { echo "model_study.sh: $kcc missing: build kcc first" >&2; exit 1; }
out=${out:-$build/bench/model_study}
mkdir -p "$out"
onnx=$build/bench/models/models
IFS=, read -r -a names <<<"$models"
need=()
for m in "${names[@]}"; do [ -f "$onnx/$m.onnx" ] || need+=("$m"); done
if [ ${#need[@]} -gt 0 ]; then
  mkdir -p "$onnx"
  /usr/bin/python3 "$root/test/e2e/export_models.py" "$onnx" "${need[@]}" >&2
fi

deadline=0
[ "$for" -gt 0 ] && deadline=$(( $(date +%s) + for ))
stopped=0

# One arm of one model: tune into OUT/ARM.db unless done; log and time each part. With --for,
# the part ends at the deadline (kcc tune is stopped; its unfinished runs resume next time).
tune_arm() {
  local m=$1 arm=$2 strategy=$3 per=$4
  local base=$out/$m-$arm
  [ -f "$base.done" ] || [ "$stopped" = 1 ] && return 0
  local limit=()
  if [ "$deadline" -gt 0 ]; then
    local left=$(( deadline - $(date +%s) ))
    [ "$left" -gt 0 ] || { stopped=1; return 0; }
    limit=(timeout --signal=TERM "$left")
  fi
  local kernels
  kernels=$("$kcc" import "$onnx/$m.onnx" -o "$out/$m.ir" --target host >/dev/null && grep -c '^kernel' "$out/$m.ir")
  local budget=$((per * kernels)) start=$(date +%s)
  echo "-- $m $arm: kcc tune --strategy $strategy --budget $budget ($per x $kernels kernels)" >&2
  local rc=0
  "${limit[@]}" "$kcc" tune "$onnx/$m.onnx" --strategy "$strategy" --budget "$budget" --threads "$threads" \
    --db "$out/$arm.db" >>"$base.log" 2>&1 || rc=$?
  echo "$(( $(date +%s) - start ))" >>"$base.time"
  if [ "$rc" = 124 ]; then
    echo "-- $m $arm: stopped at the --for deadline; run again to resume" >&2
    stopped=1
    return 0
  fi
  [ "$rc" = 0 ] || { echo "model_study.sh: kcc tune failed ($rc), see $base.log" >&2; exit 1; }
  echo "$budget" >"$base.done"
}

# Every model's hybrid arm first: it is the short one, so its results are there within the hour
# while the ten-fold arm may take several runs of this script to finish.
for m in "${names[@]}"; do tune_arm "$m" hybrid hybrid "$per_task"; done
for m in "${names[@]}"; do tune_arm "$m" evolutionary evolutionary $((per_task * factor)); done

echo "## Seed study at model level: hybrid-$per_task per kernel against evolutionary-$((per_task * factor))"
echo
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; kcc $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); candidates timed on $threads thread(s)"
echo
echo "| model | arm | budget | measured | re-measured | tuning wall s | kernels' estimate ms |"
echo "|---|---|---:|---:|---:|---:|---:|"
for m in "${names[@]}"; do
  for arm in hybrid evolutionary; do
    base=$out/$m-$arm
    [ -f "$base.log" ] || continue
    # kcc tune's last lines: "estimated time of one run of the file ...: X ms ..." and
    # "N measurements, ..., M re-measurements of the best; ..."
    # A part stopped at the --for deadline prints neither: then its last progress line's
    # "(file N/BUDGET" (measurements so far, earlier parts included) and no estimate yet.
    est=$(grep -o 'of the file ([^)]*): [0-9.]* ms' "$base.log" | tail -1 | grep -o '[0-9.]* ms' | cut -d' ' -f1 || true)
    measured=$(grep -o '^[0-9]* measurements' "$base.log" | awk '{s += $1} END {print s + 0}' || true)
    again=$(grep -o '[0-9]* re-measurements' "$base.log" | awk '{s += $1} END {print s + 0}' || true)
    if [ ! -f "$base.done" ]; then
      measured=$(grep -o '(file [0-9]*/' "$base.log" | tail -1 | tr -dc 0-9 || true)
      est="(stopped)"
    fi
    wall=$(awk '{s += $1} END {print s + 0}' "$base.time")
    budget=$(cat "$base.done" 2>/dev/null || echo "unfinished")
    echo "| $m | $arm | $budget | $measured | $again | $wall | ${est:-?} |"
  done
done
echo
# Per task: each arm's measurements and best so far (an unfinished arm too), and how many
# measurements the ten-fold arm needed to come within 1% of hybrid's best.
irs=()
for m in "${names[@]}"; do irs+=(--ir "$out/$m.ir"); done
arms=(hybrid="$out/hybrid.db")
[ -f "$out/evolutionary.db" ] && arms+=(evolutionary="$out/evolutionary.db")
/usr/bin/python3 "$root/bench/tuning/model_study.py" "${irs[@]}" "${arms[@]}"
if [ "$bench" = 1 ]; then
  "$root/bench/models/run.sh" --build "$build" --models "$models" --no-profile \
    --db "$out/hybrid.db" --db "$out/evolutionary.db"
fi
