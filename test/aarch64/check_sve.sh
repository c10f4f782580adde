#!/bin/bash
# test/aarch64/check_sve.sh OBJDUMP OBJECT MODE  (MODE: sve | a64fx | neon)
# Checks the instructions of a suite object:
#   sve, a64fx: SVE z registers, predicated contiguous loads (ld1w {zN.s}, pN/z) and
#               predicated FMAs (fmla/fmad/fmls/fmsb zN.s, pN/m) are present;
#   a64fx:      no SVE2-only instruction: the object disassembled with +sve alone (no +sve2)
#               has no <unknown> words, and no SVE2 mnemonic from a list appears;
#   neon:       no z register and no predicate at all.
# Prints the counts (also the instruction-count notes of bench/RESULTS.md).
set -euo pipefail
objdump=$1 obj=$2 mode=$3
dis=$(mktemp)
trap 'rm -f "$dis"' EXIT
"$objdump" -d --no-show-raw-insn --mattr=+sve "$obj" > "$dis"
count() { grep -cE "$1" "$dis" || true; }
z=$(count '\bz[0-9]+\.')
ld1w=$(count 'ld1w\s+\{ ?z[0-9]+\.s ?\}, p[0-9]+/z')
gather=$(count 'ld1w\s+\{ ?z[0-9]+\.s ?\}, p[0-9]+/z, \[[^]]*z[0-9]+')
fma=$(count '\b(fmla|fmad|fmls|fmsb)\s+z[0-9]+\.s, p[0-9]+/m')
while_=$(count '\bwhile(lo|lt|ls|le)\b')
unknown=$(count '<unknown>')
total=$(grep -cE '^\s+[0-9a-f]+:\s' "$dis" || true)
echo "$obj: instructions=$total z-register-lines=$z ld1w-predicated=$ld1w gathers=$gather sve-fma=$fma while=$while_ unknown=$unknown"
fail=0
case $mode in
  sve|a64fx)
    [ "$z" -gt 0 ] || { echo "FAIL: no SVE z registers"; fail=1; }
    [ "$ld1w" -gt 0 ] || { echo "FAIL: no predicated ld1w"; fail=1; }
    [ "$fma" -gt 0 ] || { echo "FAIL: no predicated SVE fmla/fmad"; fail=1; }
    ;;
  neon)
    [ "$z" -eq 0 ] || { echo "FAIL: SVE z registers in NEON code"; fail=1; }
    ;;
esac
if [ "$mode" = a64fx ]; then
  [ "$unknown" -eq 0 ] || { echo "FAIL: $unknown words that are not SVE/NEON (SVE2?)"; grep '<unknown>' "$dis" | head; fail=1; }
  # SVE2-only mnemonics (a sample of every SVE2 group: while-with-decrement, pairwise, widening,
  # narrowing, saturating, bit permutation, crypto, histogram, match, complex integer).
  sve2='\b(whilege|whilegt|whilehi|whilehs|whilerw|whilewr|faddp|fmaxnmp|fminnmp|fmaxp|fminp|addp|smaxp|umaxp|sminp|uminp|saddlb|saddlt|uaddlb|uaddlt|smlalb|smlalt|umlalb|umlalt|sqdmulh|sqrdmulh|sqxtnb|sqxtnt|uqxtnb|shrnb|shrnt|rshrnb|bext|bdep|bgrp|histcnt|histseg|match|nmatch|cadd|sqcadd|eor3|bcax|xar|tbx|sli|sri|fcvtlt|fcvtnt|fcvtx|flogb|ldnt1w\s+\{ ?z[0-9]+\.s ?\}, p[0-9]+/z, \[z)\b'
  n2=$(grep -cE "^\s+[0-9a-f]+:\s+$sve2" "$dis" || true)
  [ "$n2" -eq 0 ] || { echo "FAIL: SVE2 instructions for A64FX:"; grep -E "^\s+[0-9a-f]+:\s+$sve2" "$dis" | head; fail=1; }
fi
exit $fail
