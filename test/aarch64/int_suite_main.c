/* test/aarch64/int_suite_main.c - runs every variant of the AArch64 integer-reduction suite on
 * each data set of its kernel (outputs poisoned with 0x5a bytes) and compares every output
 * element exactly with the interpreter's. Usage: int_suite. Exit 0 = all pass. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/runner/kccd.h"
#include "int_suite.h"

#define MAX_ARGS 8 /* what kccd_call calls */

static long long element(const int_suite_array *a, const void *data, unsigned long i) {
  switch (a->elem_bytes) {
    case 1: return ((const int8_t *)data)[i];
    case 4: return ((const int32_t *)data)[i];
    default: return ((const int64_t *)data)[i];
  }
}

/* 1 when the variant matches on data set `d`, else prints the first mismatch and returns 0. */
static int check(const int_suite_variant *v, const int_suite_data *d) {
  void *args[MAX_ARGS];
  void *outs[MAX_ARGS];
  unsigned n = d->n_inputs + d->n_outputs, ok = 1;
  if (n > MAX_ARGS) {
    printf("FAIL %s (%s): %u arguments, at most %d supported\n", v->name, v->what, n, MAX_ARGS);
    return 0;
  }
  for (unsigned i = 0; i < d->n_inputs; ++i) args[i] = (void *)d->arrays[i].data;
  for (unsigned o = 0; o < d->n_outputs; ++o) {
    const int_suite_array *ref = &d->arrays[d->n_inputs + o];
    outs[o] = malloc(ref->count * ref->elem_bytes);
    memset(outs[o], 0x5a, ref->count * ref->elem_bytes);
    args[d->n_inputs + o] = outs[o];
  }
  int rc = kccd_call(v->fn, args, n);
  if (rc != 0) {
    printf("FAIL %s (%s) on %s data: status %d\n", v->name, v->what, d->label, rc);
    ok = 0;
  }
  for (unsigned o = 0; o < d->n_outputs && ok; ++o) {
    const int_suite_array *ref = &d->arrays[d->n_inputs + o];
    for (unsigned long i = 0; i < ref->count; ++i) {
      long long got = element(ref, outs[o], i), want = element(ref, ref->data, i);
      if (got != want) {
        printf("FAIL %s (%s) on %s data: output %u element %lu: got %lld, expected %lld\n", v->name, v->what,
               d->label, o, i, got, want);
        ok = 0;
        break;
      }
    }
  }
  for (unsigned o = 0; o < d->n_outputs; ++o) free(outs[o]);
  return ok;
}

int main(void) {
  unsigned failed = 0;
  for (unsigned v = 0; v < int_suite_num_variants; ++v) {
    const int_suite_variant *sv = &int_suite_variants[v];
    const int_suite_kernel *k = &int_suite_kernels[sv->kernel];
    int ok = 1;
    for (unsigned d = 0; d < k->n_sets; ++d) ok &= check(sv, &k->sets[d]);
    failed += !ok;
  }
  printf("%s: %u variants of %u kernels, %u failed\n", int_suite_target, int_suite_num_variants, int_suite_num_kernels,
         failed);
  return failed != 0;
}
