#!/usr/bin/env bash
# test/e2e/test_kcc_cli.sh - the kcc tool end to end: output files, the generated header in C
# and C++, linking and running against a naive loop, errors and exit codes, --registry round
# trips, --emit modes and targets.
#
# usage: test_kcc_cli.sh KCC RUNTIME_LIB RUNTIME_INCLUDE_DIR WORK_DIR [CC [CXX]]
set -u

KCC=$1
RUNTIME_LIB=$2
RUNTIME_INC=$3
WORK=$4
CC=${5:-gcc}
CXX=${6:-g++}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1

failures=0
pass() { echo "PASS: $1"; }
fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
}
# run NAME EXPECTED_STATUS CMD...: runs CMD with stdout/stderr in NAME.out/NAME.err.
run() {
  local name=$1 want=$2
  shift 2
  "$@" >"$name.out" 2>"$name.err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$name: exit status $got, expected $want ($*)"
    sed 's/^/    /' "$name.err" | head -20
    return 1
  fi
  return 0
}
# expect_in NAME FILE PATTERN: FILE contains the extended regex PATTERN.
expect_in() {
  if grep -Eq -- "$3" "$2"; then pass "$1"; else
    fail "$1: '$3' not in $2"
    sed 's/^/    /' "$2" | head -20
  fi
}

# ---------------------------------------------------------------- inputs
cat >model.ir <<'EOF'
# A 37x29x41 matmul with a bias + relu epilogue (no tile divides the extents), and a small
# elementwise kernel left to the default schedule.
kernel mm_relu(A: f32[37, 41], B: f32[41, 29], bias: f32[29]) -> Y: f32[37, 29] {
  acc[i, j] = sum(k) A[i, k] * B[k, j]   : f32[37, 29]
  Y[i, j]   = max(acc[i, j] + bias[j], 0.0)
}

kernel scale(X: f32[3, 100]) -> Z: f32[3, 100] {
  Z[i, j] = X[i, j] * 2.0 - 1.0
}

schedule mm_relu {
  split       Y.j [8] -> j0 j1
  vectorize   Y.j1
  parallel    Y.i
}
EOF

# The same computations spelled with other names, in another order of files.
cat >renamed.ir <<'EOF'
kernel layer(P: f32[37, 41], Q: f32[41, 29], c: f32[29]) -> R: f32[37, 29] {
  t[a, b] = sum(r) P[a, r] * Q[r, b]   : f32[37, 29]
  R[a, b] = max(t[a, b] + c[b], 0.0)
}
EOF

# One shape changed: another workload.
sed 's/f32\[37, 41\]/f32[38, 41]/; s/f32\[37, 29\]/f32[38, 29]/g' model.ir >changed.ir

cat >bad.ir <<'EOF'
kernel broken(A: f32[4, 4]) -> Y: f32[4, 4] {
  Y[i, j] = A[i, j, 0] * 2.0
}
EOF

cat >main.c <<'EOF'
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kcc_runtime.h"
#include "model.h"

enum { M = 37, N = 29, K = 41 };
static float A[M * K], B[K * N], bias[N], Y[M * N], X[300], Z[300];

static int close_enough(float got, float want) { return fabsf(got - want) <= 1e-4f * (1.0f + fabsf(want)); }

int main(void) {
  unsigned s = 12345;
  for (int i = 0; i < M * K; ++i) A[i] = (float)((s = s * 1103515245u + 12345u) >> 16 & 0x7fff) / 16384.0f - 1.0f;
  for (int i = 0; i < K * N; ++i) B[i] = (float)((s = s * 1103515245u + 12345u) >> 16 & 0x7fff) / 16384.0f - 1.0f;
  for (int i = 0; i < N; ++i) bias[i] = (float)i / N - 0.5f;
  for (int i = 0; i < 300; ++i) X[i] = (float)i;

  int st = mm_relu(A, B, bias, Y);
  if (st != 0) { printf("mm_relu: %s\n", kcc_error_string(st)); return 1; }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0;
      for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
      float want = acc + bias[j] > 0 ? acc + bias[j] : 0;
      if (!close_enough(Y[i * N + j], want)) { printf("Y[%d,%d] = %g, expected %g\n", i, j, Y[i * N + j], want); return 1; }
    }

  /* Through the table: find "scale" by name and call it through its function pointer. */
  if (kcc_model_registry_count != 2) { printf("registry count %d\n", kcc_model_registry_count); return 1; }
  const kcc_kernel_info *info = 0;
  for (int i = 0; i < kcc_model_registry_count; ++i)
    if (strcmp(kcc_model_registry[i].name, "scale") == 0) info = &kcc_model_registry[i];
  if (!info || info->num_args != 2 || info->args[0].rank != 2 || info->args[0].shape[1] != 100 ||
      info->args[0].is_output || !info->args[1].is_output || info->args[1].elem_type != KCC_ELEM_F32 ||
      info->args[1].num_elements != KCC_SCALE_Z_SIZE) { printf("bad table entry for scale\n"); return 1; }
  int (*fn)(const float *, float *) = (int (*)(const float *, float *))info->fn;
  if (fn(X, Z) != 0) return 1;
  for (int i = 0; i < 300; ++i)
    if (!close_enough(Z[i], X[i] * 2.0f - 1.0f)) { printf("Z[%d] = %g\n", i, Z[i]); return 1; }
  {
    static const int64_t dims[] = {KCC_MM_RELU_A_DIMS};
    if (KCC_MM_RELU_A_RANK != 2 || dims[0] != M || dims[1] != K) { printf("bad shape macros\n"); return 1; }
  }
  if (strstr(kcc_model_registry[0].schedule, "vectorize") == 0) { printf("schedule text missing\n"); return 1; }
  printf("ok\n");
  return 0;
}
EOF

# ---------------------------------------------------------------- compile, files, header, run
if run compile 0 "$KCC" compile model.ir --target host -o out/model; then
  for f in out/model.o out/model.h out/model.kreg; do
    if [ -s "$f" ]; then pass "compile writes $f"; else fail "compile writes $f"; fi
  done
  if ls -a out | grep -q tmp; then fail "no temporary files left in out/"; else pass "no temporary files left in out/"; fi
  expect_in "header declares mm_relu with const inputs" out/model.h \
    'int mm_relu\(const float \*A, const float \*B, const float \*bias, float \*Y\);'
  expect_in "header has the registry table" out/model.h 'static const kcc_kernel_info kcc_model_registry\[\]'
  expect_in "header records the hand schedule as given" out/model.h 'schedule \(given\)'
  expect_in "registry has the format tag" out/model.kreg '"format": "kcc-registry-1"'
  expect_in "registry records the default schedule" out/model.kreg '"source": "default"'

  # The header alone, in C99 and C++, with a second generated header included beside it.
  if run other 0 "$KCC" compile renamed.ir --target host -o out/other; then
    printf '#include "model.h"\n#include "other.h"\n#include "model.h"\nint main(void) { return kcc_model_registry_count + kcc_other_registry_count - 3; }\n' >both.c
    if run header_c99 0 "$CC" -std=c99 -Wall -Wextra -Werror -pedantic -Iout -c both.c -o both_c.o; then
      pass "header compiles as C99 (-Wall -Werror), two headers together"
    fi
    if run header_cxx 0 "$CXX" -x c++ -std=c++11 -Wall -Wextra -Werror -Iout -c both.c -o both_cxx.o; then
      pass "header compiles as C++ (-Wall -Werror), two headers together"
    fi
    # Same computation, other names: same workload key.
    k1=$(grep -m1 '"workload_key"' out/model.kreg)
    k2=$(grep -m1 '"workload_key"' out/other.kreg)
    if [ "$k1" = "$k2" ]; then pass "renamed kernel has the same workload key"; else fail "renamed kernel has the same workload key ($k1 vs $k2)"; fi
  fi

  if run link 0 "$CC" -std=c99 -Wall -Werror -O1 -Iout -I"$RUNTIME_INC" main.c out/model.o "$RUNTIME_LIB" -lpthread -lm -o app; then
    if run app 0 ./app; then pass "app links model.o with the runtime and matches the naive loop"; else
      sed 's/^/    /' app.out | head
    fi
  fi
  if run link_cxx 0 "$CXX" -Wall -Werror -Iout -I"$RUNTIME_INC" -x c++ main.c -x none out/model.o "$RUNTIME_LIB" -lpthread -lm -o app_cxx; then
    if run app_cxx 0 ./app_cxx; then pass "the same app built as C++ runs"; fi
  fi
fi

# ---------------------------------------------------------------- user errors: exit 1, located, no files
if run bad 1 "$KCC" compile bad.ir --target host -o bad_out/model; then pass "bad .ir exits 1"; fi
expect_in "bad .ir error is located" bad.err '^bad\.ir:2:[0-9]+: error: '
expect_in "bad .ir error shows a caret" bad.err '^ *\^'
if [ -e bad_out ] && [ -n "$(ls -A bad_out)" ]; then fail "bad .ir leaves no output files"; else pass "bad .ir leaves no output files"; fi

# A failed compile leaves earlier outputs untouched.
if [ -f out/model.o ]; then
  before=$(cat out/model.o out/model.h out/model.kreg | md5sum)
  run bad_over 1 "$KCC" compile bad.ir --target host -o out/model
  after=$(cat out/model.o out/model.h out/model.kreg | md5sum)
  if [ "$before" = "$after" ] && ! ls -a out | grep -q tmp; then pass "a failed compile keeps the old outputs"; else fail "a failed compile keeps the old outputs"; fi
fi

if run missing 1 "$KCC" compile no_such_file.ir -o x/model; then pass "missing input exits 1"; fi
expect_in "missing input names the file" missing.err 'no_such_file\.ir'

# ---------------------------------------------------------------- a model's kernels: NAME_KERNEL
# In an object that holds a model, kernels are C symbols NAME_KERNEL (two models' objects may
# have kernels of one name); the header's prototypes and table follow, the table keeps the name.
cat >net.ir <<'EOF'
kernel twice(X: f32[4]) -> Y: f32[4] {
  Y[i] = X[i] * 2.0
}
model net(x: f32[4]) -> y: f32[4] {
  y = twice(x)
}
EOF
if run net_compile 0 "$KCC" compile net.ir -o sym/net; then
  nm sym/net.o >sym/nm.txt
  expect_in "a model's kernel is the symbol NAME_KERNEL" sym/nm.txt ' T net_twice$'
  if grep -q ' T twice$' sym/nm.txt; then fail "a model's kernel has no unprefixed symbol"; else pass "a model's kernel has no unprefixed symbol"; fi
  expect_in "the header declares the prefixed kernel" sym/net.h '^int net_twice\(const float \*X, float \*Y\);'
  expect_in "the header's table names the kernel and points at its symbol" sym/net.h \
    '\{"twice", 2, kcc_net_twice_args, \(void \(\*\)\(void\)\)&net_twice,'
fi
sed 's/twice/run/g' net.ir >clash.ir
if run clash 1 "$KCC" compile clash.ir -o clash_out/net; then pass "a kernel whose symbol would be an entry point exits 1"; fi
expect_in "the clash is named at the kernel" clash.err \
  "^clash\.ir:1:8: error: kernel 'run' would have the C symbol 'net_run' in net\.o, an entry point of model 'net'; rename the kernel"
if [ -e clash_out ] && [ -n "$(ls -A clash_out)" ]; then fail "the clash leaves no output files"; else pass "the clash leaves no output files"; fi

# ---------------------------------------------------------------- never lose or corrupt a file
# no_temps NAME DIR: no temporary (.NAME.tmpXXXXXX) is left in DIR.
no_temps() {
  if ls -a "$2" | grep -q '\.tmp'; then fail "$1: temporaries left in $2: $(ls -a "$2" | grep '\.tmp' | tr '\n' ' ')"; else
    pass "$1: no temporaries left in $2"
  fi
}
# Outputs are replaced all together or not at all: the third output cannot be written (a
# directory; a link to a full device), so the first two keep their old bytes.
for how in directory full_device; do
  if run "aon_$how" 0 "$KCC" compile model.ir --target host -o "aon_$how/model"; then
    before=$(cat "aon_$how/model.o" "aon_$how/model.h" | md5sum)
    rm "aon_$how/model.kreg"
    if [ "$how" = directory ]; then mkdir "aon_$how/model.kreg"; else ln -s /dev/full "aon_$how/model.kreg"; fi
    run "aon_${how}_2" 1 "$KCC" compile changed.ir --target host -o "aon_$how/model" &&
      pass "an output that cannot be written ($how) fails the compile"
    expect_in "the failing output is named ($how)" "aon_${how}_2.err" "cannot write 'aon_$how/model\.kreg'"
    after=$(cat "aon_$how/model.o" "aon_$how/model.h" | md5sum)
    [ "$before" = "$after" ] && pass "outputs are replaced all or none ($how)" ||
      fail "outputs are replaced all or none ($how): model.o/model.h changed"
    no_temps "failed compile ($how)" "aon_$how"
  fi
done
[ -L aon_full_device/model.kreg ] && pass "a symlink output stays a symlink" || fail "a symlink output stays a symlink"
[ -c /dev/full ] && pass "/dev/full is still a device" || fail "/dev/full is still a device"

# A symlink to a regular file: the file it points to is written, the link stays.
run ref_lowered 0 "$KCC" compile model.ir --target host --emit=lowered
echo old >link_target.txt
ln -s link_target.txt link.txt
if run emit_link 0 "$KCC" compile model.ir --target host --emit=lowered -o link.txt; then
  [ -L link.txt ] && cmp -s link_target.txt ref_lowered.out && pass "-o a symlink writes its target" ||
    fail "-o a symlink writes its target"
fi
# A FIFO is written into, not replaced.
mkfifo fifo_out
timeout 60 cat fifo_out >fifo_got &
cat_pid=$!
if run emit_fifo 0 timeout 60 "$KCC" compile model.ir --target host --emit=lowered -o fifo_out; then
  if [ -p fifo_out ]; then wait "$cat_pid"; else kill "$cat_pid" 2>/dev/null; fi
  [ -p fifo_out ] && cmp -s fifo_got ref_lowered.out && pass "-o a FIFO writes into it" || fail "-o a FIFO writes into it"
fi
kill "$cat_pid" 2>/dev/null
# A link to /proc/self/fd/1 (as /dev/stdout is) on a pipe: its link text is no path.
ln -s /proc/self/fd/1 stdout_link
"$KCC" compile model.ir --target host --emit=lowered -o stdout_link 2>stdout_link.err | cat >stdout_piped.out
[ -L stdout_link ] && cmp -s stdout_piped.out ref_lowered.out && pass "-o a link to stdout on a pipe writes the pipe" ||
  fail "-o a link to stdout on a pipe writes the pipe"
# A character device (a /dev/null made here, where the container allows it) stays a device.
if mknod null_dev c 1 3 2>/dev/null; then
  if run emit_dev 0 "$KCC" compile model.ir --target host --emit=asm -o null_dev; then
    [ -c null_dev ] && pass "-o a character device writes into it" || fail "-o a character device writes into it"
  fi
fi
# A directory or a socket is an error naming the path, and stays as it was.
mkdir emit_dir
if run emit_dir 1 "$KCC" compile model.ir --target host --emit=ir -o emit_dir; then
  expect_in "-o a directory names it" emit_dir.err "cannot write 'emit_dir': it is a directory"
fi
if command -v python3 >/dev/null && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock_out')"; then
  if run emit_sock 1 "$KCC" compile model.ir --target host --emit=ir -o sock_out; then
    [ -S sock_out ] && pass "-o a socket is refused and kept" || fail "-o a socket is refused and kept"
  fi
fi
no_temps "refused outputs" .

# Write errors on standard output fail the command.
"$KCC" compile model.ir --target host --emit=lowered >/dev/full 2>stdout_full.err
st=$?
[ "$st" -eq 1 ] && pass "a write error on stdout exits 1" || fail "a write error on stdout exits 1 (got $st)"
expect_in "a write error on stdout is reported" stdout_full.err 'kcc: error: cannot write to standard output'

# Inputs that cannot be a model: a directory, an empty file, only comments.
mkdir input_dir
: >empty.ir
printf '# only a comment\n\n' >comments.ir
for input in input_dir empty.ir comments.ir; do
  name=input_${input%.ir}
  if run "$name" 1 "$KCC" compile "$input" --target host -o "$name/model"; then pass "input $input exits 1"; fi
  expect_in "input $input is named" "$name.err" "kcc: error: .*'$input'"
  [ -e "$name" ] && fail "input $input writes nothing" || pass "input $input writes nothing"
done
# A file of schedules only, for the kernels of another input, is fine.
printf 'schedule scale {\n  vectorize Z.j\n}\n' >schedules_only.ir
if run schedules_only 0 "$KCC" compile model.ir schedules_only.ir --target host --emit=scheduled; then
  expect_in "a schedules-only input applies" schedules_only.out 'vectorize +Z\.j'
fi

# A tuning database that cannot be reached (a path under a regular file; chmod does not stop
# root): compile warns and goes on without records; tune and report are errors.
echo "not a directory" >not_a_dir
if run db_compile 0 "$KCC" compile model.ir --target host --db not_a_dir/sub/tuning.db -o db_out/model; then
  pass "compile with an unreachable --db succeeds"
fi
expect_in "compile with an unreachable --db warns" db_compile.err \
  "kcc: warning: cannot open tuning database 'not_a_dir/sub/tuning.db'.*compiling without tuning records"
if run db_xdg 0 env XDG_CACHE_HOME="$WORK/not_a_dir/cache" "$KCC" compile model.ir --target host -o db_out/model; then
  pass "compile with an unreachable XDG_CACHE_HOME succeeds"
fi
expect_in "compile with an unreachable XDG_CACHE_HOME warns" db_xdg.err 'kcc: warning: .*compiling without tuning records'
if run db_tune 1 "$KCC" tune model.ir --target host --budget 1 --db not_a_dir/sub/tuning.db; then pass "tune with an unreachable --db exits 1"; fi
expect_in "tune names the database" db_tune.err "kcc: error: cannot open tuning database 'not_a_dir/sub/tuning.db'"
if run db_report 1 "$KCC" report model.ir --db not_a_dir/sub/tuning.db; then pass "report with an unreachable --db exits 1"; fi

# ---------------------------------------------------------------- registry round trip
if [ -f out/model.kreg ]; then
  if run reg 0 "$KCC" compile model.ir --target host --registry out/model.kreg -o locked/model; then
    diff <(grep '"schedule":' out/model.kreg) <(grep '"schedule":' locked/model.kreg) >/dev/null &&
      pass "--registry rebuild has identical schedules" || fail "--registry rebuild has identical schedules"
    n=$(grep -c '"source": "registry"' locked/model.kreg)
    [ "$n" -eq 2 ] && pass "--registry rebuild says source registry" || fail "--registry rebuild says source registry ($n of 2)"
    cmp -s out/model.o locked/model.o && pass "--registry rebuild gives the same object file" ||
      fail "--registry rebuild gives the same object file"
  fi
  # The lockfile of model.ir serves the same computation spelled differently.
  if run reg_renamed 0 "$KCC" compile renamed.ir --target host --registry out/model.kreg -o locked/renamed; then
    expect_in "registry serves a renamed kernel" locked/renamed.kreg '"source": "registry"'
    expect_in "renamed schedule uses the new names" locked/renamed.h 'vectorize +R\.'
  fi
  if run reg_changed 1 "$KCC" compile changed.ir --target host --registry out/model.kreg -o changed/model; then
    pass "--registry with a changed kernel exits 1"
  fi
  expect_in "changed kernel error names the kernel" reg_changed.err "kernel 'mm_relu'"
  expect_in "changed kernel error points at the kernel" reg_changed.err '^changed\.ir:3:'
  [ -e changed ] && fail "--registry failure leaves no files" || pass "--registry failure leaves no files"

  sed 's/"target_key": "[^"]*"/"target_key": "other-machine"/' out/model.kreg >other_target.kreg
  if run reg_target 1 "$KCC" compile model.ir --target host --registry other_target.kreg -o t/model; then
    pass "--registry for another target exits 1"
  fi
  expect_in "other-target error names the kernel and target" reg_target.err "kernel 'mm_relu'.*target"

  # A lockfile recorded on another cpu of this ISA builds, with one note; strict refuses it.
  sed -E 's/("target(_key)?": "[^;"]*);[^;"]*;/\1;kcc-foreign-cpu;/' out/model.kreg >foreign_cpu.kreg
  if run reg_foreign 0 "$KCC" compile model.ir --target host --registry foreign_cpu.kreg -o foreign/model; then
    n=$(grep -c 'tuned on kcc-foreign-cpu, used on' reg_foreign.err)
    [ "$n" -eq 1 ] && pass "foreign-cpu registry: one note line" || fail "foreign-cpu registry: one note line ($n)"
    expect_in "foreign-cpu note says retune" reg_foreign.err 'retune for best speed'
    cmp -s out/model.o foreign/model.o && pass "foreign-cpu registry gives the same object file" ||
      fail "foreign-cpu registry gives the same object file"
  fi
  if run reg_strict 1 "$KCC" compile model.ir --target host --registry foreign_cpu.kreg --registry-strict -o strict/model; then
    pass "--registry-strict refuses another cpu"
  fi
  expect_in "--registry-strict error says why" reg_strict.err "under --registry-strict: its entry was tuned on kcc-foreign-cpu"
  [ -e strict ] && fail "--registry-strict failure leaves no files" || pass "--registry-strict failure leaves no files"
  run reg_strict_alone 2 "$KCC" compile model.ir --registry-strict -o t/model &&
    pass "--registry-strict without --registry is a usage error"
  # An entry tuned with AVX-512 never serves an AVX2 target; an AVX2 one serves the host.
  if grep -q '"target": "x86_64[^"]*avx512f' out/model.kreg; then
    if run reg_avx2 1 "$KCC" compile model.ir --target x86_64-avx2 --registry out/model.kreg -o t/model; then
      pass "an AVX-512 registry is refused for x86_64-avx2"
    fi
    expect_in "the refusal names the missing ISA" reg_avx2.err "avx512f.*which x86_64-avx2"
    if run avx2_kreg 0 "$KCC" compile model.ir --target x86_64-avx2 -o avx2/model &&
       run reg_on_host 0 "$KCC" compile model.ir --target host --registry avx2/model.kreg -o onhost/model; then
      expect_in "an AVX2 registry serves an AVX-512 host, with a note" reg_on_host.err 'tuned on x86-64-v3'
    fi
  fi
  # A code option is part of the key: --llvm-unroll=off is another target for the registry.
  if run unroll_off 0 "$KCC" compile model.ir --target host --llvm-unroll=off -o unroll/model; then
    expect_in "--llvm-unroll=off is in the target key" unroll/model.kreg '"target": "[^"]*;no-llvm-unroll"'
  fi
  run unroll_bad 2 "$KCC" compile model.ir --llvm-unroll=maybe && pass "--llvm-unroll takes on or off"

  head -c 200 out/model.kreg >truncated.kreg
  if run reg_trunc 1 "$KCC" compile model.ir --registry truncated.kreg -o t/model; then pass "truncated registry exits 1"; fi
  expect_in "truncated registry error is located" reg_trunc.err '^truncated\.kreg:[0-9]+:[0-9]+: error: '

  sed 's/"source": "default"/"source": "guessed"/' out/model.kreg >badsource.kreg
  run reg_src 1 "$KCC" compile model.ir --registry badsource.kreg -o t/model
  expect_in "bad source field is located" reg_src.err "^badsource\.kreg:[0-9]+:[0-9]+: error: unknown schedule source 'guessed'"
fi

# ---------------------------------------------------------------- --emit modes
for kind in ast ir scheduled lowered llvm asm; do
  if run "emit_$kind" 0 "$KCC" compile model.ir --target host --emit=$kind; then
    if [ -s "emit_$kind.out" ]; then pass "--emit=$kind prints text"; else fail "--emit=$kind prints text"; fi
  fi
done
[ -f emit_llvm.out ] && expect_in "--emit=llvm is LLVM IR" emit_llvm.out '^define .*@mm_relu'
[ -f emit_scheduled.out ] && expect_in "--emit=scheduled shows the schedules" emit_scheduled.out 'schedule mm_relu'
if run emit_file 0 "$KCC" compile model.ir --target host --emit=lowered -o lowered.txt && [ -s lowered.txt ] &&
  [ ! -s emit_file.out ]; then pass "--emit with -o writes the file"; else fail "--emit with -o writes the file"; fi

if run time_passes 0 "$KCC" compile model.ir --target host --time-passes -o tp/model; then
  expect_in "--time-passes prints a table" time_passes.err 'timing report'
fi

# ---------------------------------------------------------------- command line
if run bad_target 2 "$KCC" compile model.ir --target bogus-9000 -o t/model; then pass "unknown target exits 2"; fi
expect_in "unknown target is named" bad_target.err "kcc: error: .*bogus-9000"
if run bad_flag 2 "$KCC" compile model.ir --frobnicate; then pass "unknown option exits 2"; fi
expect_in "unknown option message" bad_flag.err "kcc: error: unknown option '--frobnicate'"
expect_in "usage hint" bad_flag.err "kcc --help"
if run bad_emit 2 "$KCC" compile model.ir --emit=pdf; then pass "unknown --emit exits 2"; fi
if run bad_step 2 "$KCC" compile model.ir --print-after=no_such_step; then pass "unknown --print-after step exits 2"; fi
expect_in "unknown --print-after step lists the pipeline's steps" bad_step.err \
  "unknown pipeline step 'no_such_step' in --print-after \(steps: choose-schedule, tune, apply-schedule, lower, simplify, partition-loops, vectorize, unroll, simplify-final, hoist-allocations, verify, plan-memory, codegen, model-entry, optimize\)"
if run no_cmd 2 "$KCC"; then pass "no command exits 2"; fi
if run targets 0 "$KCC" targets; then expect_in "kcc targets lists host" targets.out '^host '; fi
if run version 0 "$KCC" --version; then expect_in "--version" version.out '^kcc [0-9]'; fi
if run help 0 "$KCC" --help; then expect_in "--help" help.out 'usage: kcc compile'; fi

# prefetch steps become the targets' prefetch instructions (into L2: prefetcht1, prfm pldl2keep)
cat >prefetch.ir <<'EOF'
kernel mm(A: f32[37, 29], B: f32[29, 43]) -> C: f32[37, 43] {
  C[i, j] = sum(k) A[i, k] * B[k, j]
}
schedule mm {
  split C.k [4] -> k0 k1
  reorder C k0 i k1 j
  prefetch B at C.k0 1
}
EOF
if run prefetch_x86 0 "$KCC" compile prefetch.ir --target x86_64-avx512 --emit=asm -o prefetch_x86.s; then
  expect_in "prefetch on x86-64 is prefetcht1" prefetch_x86.s 'prefetcht1'
fi
if run prefetch_a64 0 "$KCC" compile prefetch.ir --target aarch64-sve --emit=asm -o prefetch_a64.s; then
  expect_in "prefetch on AArch64 is prfm pldl2keep" prefetch_a64.s 'prfm[[:space:]]+pldl2keep'
fi

echo
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed (work dir: $WORK)"
  exit 1
fi
echo "all checks passed"
