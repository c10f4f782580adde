/* ResNet-18 with its weights in r18.weights: load them, run, compare with PyTorch's output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kcc_runtime.h"
#include "r18.h"

static float *load(const char *file, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", DATA, file);
  float *v = malloc(n * sizeof *v);
  FILE *f = fopen(path, "rb");
  if (!v || !f || fread(v, sizeof *v, n, f) != n) {
    printf("cannot read %zu floats from %s\n", n, path);
    exit(2);
  }
  fclose(f);
  return v;
}

int main(void) {
  void *weights = NULL;
  int rc = r18_load_weights(WEIGHTS, &weights);
  if (rc != 0) {
    printf("r18_load_weights(%s): %s\n", WEIGHTS, kcc_error_string(rc));
    return 1;
  }
  float *x = load("input.bin", KCC_R18_INPUT_SIZE), *ref = load("reference.bin", KCC_R18_OUTPUT_SIZE);
  float *y = malloc(KCC_R18_OUTPUT_SIZE * sizeof *y);
  rc = r18(weights, x, y);
  kcc_free(weights);
  if (rc != 0) {
    printf("r18: %s\n", kcc_error_string(rc));
    return 1;
  }
  double err = 0, mag = 0;
  for (size_t i = 0; i < KCC_R18_OUTPUT_SIZE; ++i) {
    if (!(fabs(y[i] - ref[i]) <= err)) err = fabs(y[i] - ref[i]); /* NaN-safe: a NaN wins */
    if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
  }
  printf("r18 (external weights): max error %.3g of max %.3g\n", err, mag);
  return !(err <= 1e-4 * mag);
}
