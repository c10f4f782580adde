/* runtime/weights.c - loading a compiled model's external weights (kcc_load_weights).
 *
 * The file is the raw blob the model's code indexes (kcc compile --weights external): no header,
 * so the size and a hash compiled into the model are what tell a stale or foreign file apart. */
#include <stdio.h>

#include "kcc_runtime.h"

static uint64_t fnv1a64(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

int kcc_load_weights(const char *path, size_t bytes, uint64_t fnv1a, void **weights) {
  if (!weights) return KCC_ERR_NULL_ARGUMENT;
  *weights = NULL;
  if (!path) return KCC_ERR_NULL_ARGUMENT;
  if (bytes == 0) return KCC_OK;
  FILE *f = fopen(path, "rb");
  if (!f) return KCC_ERR_WEIGHTS_FILE;
  unsigned char *p = (unsigned char *)kcc_alloc(bytes);
  if (!p) {
    fclose(f);
    return KCC_ERR_OUT_OF_MEMORY;
  }
  size_t got = fread(p, 1, bytes, f);
  int extra = fgetc(f); /* a longer file is another model's */
  int status = got == bytes && extra == EOF && !ferror(f) && fnv1a64(p, bytes) == fnv1a ? KCC_OK : KCC_ERR_WEIGHTS_FILE;
  fclose(f);
  if (status != KCC_OK) {
    kcc_free(p);
    return status;
  }
  *weights = p;
  return KCC_OK;
}
