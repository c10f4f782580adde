/* bench/models/profile.c - a per-kernel profile of a model compiled by kcc: each kernel of the
 * generated header's table kcc_NAME_registry[] called alone, with the model's shapes, on random
 * data, times the number of calls the model makes to it.
 *
 * Build: as harness.c (-DMODEL=NAME -I DIR ...).
 * Run:   profile CALLS THREADS REPS [TOP]
 *   CALLS: lines "KERNEL COUNT" (how often the model calls each kernel; run.sh counts them in
 *   `kcc import`'s model). Prints one line per kernel, sorted by share of the summed time:
 *   rank, kernel, calls, median ms per call, ms per inference, share, GFLOP/s, schedule source.
 * The sum is not the model's latency: the model's kernels run with warm caches from the previous
 * layer, and nothing here measures the entry point's own work (workspace, fork/join). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcc_runtime.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)
#include STR(MODEL.h)

#define REGISTRY CAT3(kcc_, MODEL, _registry)
#define REGISTRY_COUNT CAT3(kcc_, MODEL, _registry_count)

enum { kMaxArgs = 8 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t elem_bytes(int type) {
  switch (type) {
    case KCC_ELEM_F64: case KCC_ELEM_I64: return 8;
    case KCC_ELEM_F32: case KCC_ELEM_I32: return 4;
    case KCC_ELEM_F16: case KCC_ELEM_BF16: return 2;
    default: return 1;
  }
}

/* Every argument is a pointer: cast the kernel back to its arity. */
static int invoke(void (*fn)(void), int n, void **a) {
  switch (n) {
    case 1: return ((int (*)(void *))fn)(a[0]);
    case 2: return ((int (*)(void *, void *))fn)(a[0], a[1]);
    case 3: return ((int (*)(void *, void *, void *))fn)(a[0], a[1], a[2]);
    case 4: return ((int (*)(void *, void *, void *, void *))fn)(a[0], a[1], a[2], a[3]);
    case 5: return ((int (*)(void *, void *, void *, void *, void *))fn)(a[0], a[1], a[2], a[3], a[4]);
    case 6:
      return ((int (*)(void *, void *, void *, void *, void *, void *))fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
    case 7:
      return ((int (*)(void *, void *, void *, void *, void *, void *, void *))fn)(a[0], a[1], a[2], a[3], a[4],
                                                                                  a[5], a[6]);
    case 8:
      return ((int (*)(void *, void *, void *, void *, void *, void *, void *, void *))fn)(a[0], a[1], a[2], a[3],
                                                                                          a[4], a[5], a[6], a[7]);
  }
  return -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  const kcc_kernel_info *k;
  int calls;
  double median;  /* seconds per call */
} row;

static int by_total(const void *a, const void *b) {
  const row *x = a, *y = b;
  double tx = x->median * x->calls, ty = y->median * y->calls;
  return (tx < ty) - (tx > ty);
}

static int calls_of(const char *path, const char *kernel) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  char name[512];
  int n, found = 0;
  while (fscanf(f, "%511s %d", name, &n) == 2)
    if (strcmp(name, kernel) == 0) found = n;
  fclose(f);
  return found;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s CALLS THREADS REPS [TOP]\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[2]), reps = atoi(argv[3]), top = argc > 4 ? atoi(argv[4]) : REGISTRY_COUNT;
  kcc_set_num_threads(threads);
  row *rows = calloc(REGISTRY_COUNT, sizeof *rows);
  double *t = malloc(reps * sizeof *t), sum = 0, flops = 0;
  srand(1);
  for (int i = 0; i < REGISTRY_COUNT; ++i) {
    const kcc_kernel_info *k = &REGISTRY[i];
    void *a[kMaxArgs];
    if (k->num_args > kMaxArgs) {
      fprintf(stderr, "%s: %d arguments, more than %d\n", k->name, k->num_args, kMaxArgs);
      return 1;
    }
    for (int j = 0; j < k->num_args; ++j) {
      size_t bytes = k->args[j].num_elements * elem_bytes(k->args[j].elem_type);
      a[j] = kcc_alloc(bytes > 0 ? bytes : 64);
      memset(a[j], 0, bytes);
      if (k->args[j].elem_type == KCC_ELEM_F32)
        for (int64_t e = 0; e < k->args[j].num_elements; ++e) ((float *)a[j])[e] = 2.0f * rand() / RAND_MAX - 1.0f;
    }
    int rc = invoke(k->fn, k->num_args, a);  /* warm-up */
    if (rc != 0) {
      fprintf(stderr, "%s returned %d: %s\n", k->name, rc, kcc_error_string(rc));
      return 1;
    }
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      invoke(k->fn, k->num_args, a);
      t[r] = now() - t0;
    }
    qsort(t, reps, sizeof *t, cmp_double);
    rows[i] = (row){k, calls_of(argv[1], k->name), t[reps / 2]};
    sum += rows[i].median * rows[i].calls;
    flops += k->flops * rows[i].calls;
    for (int j = 0; j < k->num_args; ++j) kcc_free(a[j]);
  }
  qsort(rows, REGISTRY_COUNT, sizeof *rows, by_total);
  printf("%s, %d thread(s): %d kernels, sum of kernel times %.1f ms per inference (%.1f GFLOP/s)\n\n", STR(MODEL),
         threads, REGISTRY_COUNT, sum * 1e3, flops / sum * 1e-9);
  printf("| # | kernel | calls | ms/call | ms/inference | share | GFLOP/s | schedule |\n");
  printf("|---:|---|---:|---:|---:|---:|---:|---|\n");
  for (int i = 0; i < REGISTRY_COUNT && i < top; ++i) {
    const row *r = &rows[i];
    printf("| %d | %s | %d | %.3f | %.2f | %.1f%% | %.1f | %s |\n", i + 1, r->k->name, r->calls, r->median * 1e3,
           r->median * r->calls * 1e3, 100 * r->median * r->calls / sum, r->k->flops / r->median * 1e-9,
           r->k->schedule_source);
  }
  free(rows);
  free(t);
  return 0;
}
