/* tools/runner/kccd.h - the KCCD data file: a kernel's inputs and reference outputs.
 *
 * Little-endian, written by the compiling machine (tuner/runner_client.cpp), read by
 * kcc-runner and the AArch64 suite driver on the target machine (docs/runner.md):
 *   "KCCD"  u32 version (1)  u32 n_inputs  u32 n_outputs
 *   then n_inputs + n_outputs arrays, each:  u32 dtype (0 = f32)  u32 reserved (0)
 *                                            u64 count  count * f32
 * Several KCCD blocks may follow each other in one file (the suite driver's data).
 * Header-only C; no dependency beyond libc. */
#ifndef KCC_KCCD_H
#define KCC_KCCD_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sanity bound on a block's arrays (a kernel's inputs + outputs), not a kernel limit in practice. */
#define KCCD_MAX_ARRAYS 1024

typedef struct {
  uint32_t n_inputs, n_outputs;
  uint64_t count[KCCD_MAX_ARRAYS];
  float *data[KCCD_MAX_ARRAYS]; /* inputs first, then reference outputs */
} kccd_block;

/* Reads the next block of `f`. Returns 0 on success, 1 at a clean end of file, -1 on a bad file
 * (with a message in err). */
static inline int kccd_read(FILE *f, kccd_block *b, char *err, size_t errlen) {
  char magic[4];
  uint32_t hdr[3];
  memset(b, 0, sizeof *b);
  size_t got = fread(magic, 1, 4, f);
  if (got == 0 && feof(f)) return 1;
  if (got != 4 || memcmp(magic, "KCCD", 4) != 0) {
    snprintf(err, errlen, "not a KCCD file (bad magic)");
    return -1;
  }
  if (fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] != 1) {
    snprintf(err, errlen, "unsupported KCCD version");
    return -1;
  }
  b->n_inputs = hdr[1];
  b->n_outputs = hdr[2];
  if (b->n_inputs + b->n_outputs > KCCD_MAX_ARRAYS) {
    snprintf(err, errlen, "too many arrays (%u)", b->n_inputs + b->n_outputs);
    return -1;
  }
  for (uint32_t i = 0; i < b->n_inputs + b->n_outputs; ++i) {
    uint32_t ty[2];
    uint64_t n;
    if (fread(ty, sizeof ty, 1, f) != 1 || fread(&n, sizeof n, 1, f) != 1) {
      snprintf(err, errlen, "truncated KCCD array header");
      return -1;
    }
    if (ty[0] != 0) {
      snprintf(err, errlen, "array %u: unsupported dtype %u", i, ty[0]);
      return -1;
    }
    b->count[i] = n;
    b->data[i] = (float *)malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!b->data[i] || fread(b->data[i], sizeof(float), (size_t)n, f) != (size_t)n) {
      snprintf(err, errlen, "truncated KCCD array %u", i);
      return -1;
    }
  }
  return 0;
}

static inline void kccd_free(kccd_block *b) {
  for (uint32_t i = 0; i < KCCD_MAX_ARRAYS; ++i) free(b->data[i]);
  memset(b, 0, sizeof *b);
}

/* Calls a kcc kernel `int fn(float *a0, ..., float *aN)` with n pointer arguments. */
static inline int kccd_call(void *fn, void **a, unsigned n) {
  switch (n) {
#define P void *
    case 1: return ((int (*)(P))fn)(a[0]);
    case 2: return ((int (*)(P, P))fn)(a[0], a[1]);
    case 3: return ((int (*)(P, P, P))fn)(a[0], a[1], a[2]);
    case 4: return ((int (*)(P, P, P, P))fn)(a[0], a[1], a[2], a[3]);
    case 5: return ((int (*)(P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4]);
    case 6: return ((int (*)(P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
    case 7: return ((int (*)(P, P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    case 8: return ((int (*)(P, P, P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
#undef P
    default: return -1000;
  }
}

#endif /* KCC_KCCD_H */
