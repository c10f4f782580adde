/* test/aarch64/suite_main.c - runs every variant of the AArch64 correctness suite once on the
 * kernels' inputs (outputs poisoned with NaN) and compares each output element with the
 * interpreter's: |out - ref| <= 2e-4 * (1 + |ref|). Usage: suite suite.kccd. Exit 0 = all pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../tools/runner/kccd.h"
#include "suite.h"

#define TOL 2e-4

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s suite.kccd\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  kccd_block *blocks = calloc(suite_num_kernels, sizeof *blocks);
  char err[256];
  for (unsigned k = 0; k < suite_num_kernels; ++k) {
    if (kccd_read(f, &blocks[k], err, sizeof err) != 0) {
      fprintf(stderr, "%s: block %u: %s\n", argv[1], k, err);
      return 2;
    }
  }
  fclose(f);
  unsigned failed = 0;
  for (unsigned v = 0; v < suite_num_variants; ++v) {
    const suite_variant *sv = &suite_variants[v];
    kccd_block *b = &blocks[sv->kernel];
    void *args[KCCD_MAX_ARRAYS];
    float *outs[KCCD_MAX_ARRAYS];
    if (sv->nargs != b->n_inputs + b->n_outputs) {
      printf("FAIL %s: %u arguments but the data has %u arrays\n", sv->name, sv->nargs, b->n_inputs + b->n_outputs);
      ++failed;
      continue;
    }
    for (unsigned i = 0; i < b->n_inputs; ++i) args[i] = b->data[i];
    for (unsigned o = 0; o < b->n_outputs; ++o) {
      uint64_t n = b->count[b->n_inputs + o];
      outs[o] = malloc((n ? n : 1) * sizeof(float));
      for (uint64_t i = 0; i < n; ++i) outs[o][i] = NAN;
      args[b->n_inputs + o] = outs[o];
    }
    int rc = kccd_call(sv->fn, args, sv->nargs);
    int bad = rc != 0;
    if (rc != 0) printf("FAIL %s (%s): status %d\n", sv->name, sv->what, rc);
    for (unsigned o = 0; o < b->n_outputs && !bad; ++o) {
      const float *ref = b->data[b->n_inputs + o];
      for (uint64_t i = 0; i < b->count[b->n_inputs + o]; ++i) {
        double x = outs[o][i], y = ref[i];
        if (!(fabs(x - y) <= TOL * (1 + fabs(y)))) {
          printf("FAIL %s (%s): output %u element %llu: got %g, expected %g\n", sv->name, sv->what, o,
                 (unsigned long long)i, x, y);
          bad = 1;
          break;
        }
      }
    }
    for (unsigned o = 0; o < b->n_outputs; ++o) free(outs[o]);
    failed += bad;
  }
  printf("%s: %u variants of %u kernels, %u failed\n", suite_target, suite_num_variants, suite_num_kernels, failed);
  return failed != 0;
}
