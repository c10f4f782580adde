/* bench/models/profile.c - a per-kernel profile of a model compiled by kcc, two ways:
 *   alone        each kernel of the generated header's table kcc_NAME_registry[] called by
 *                itself, REPS times in a row, on random data with the model's shapes (its
 *                operands stay in cache from one call to the next); and again with the
 *                arguments the model passes weights evicted from the caches before each call
 *                (kcc_evict_from_cache: how `kcc tune` times a model's kernels)
 *   in sequence  the model's own calls, in the model's order (read from the `model` block of
 *                `kcc import`'s .ir), REPS inferences, each call timed: a layer's weights come
 *                from wherever the previous layers left them, its input from the layer before
 * Each is times the number of calls the model makes to the kernel.
 *
 * Build: as harness.c (-DMODEL=NAME -I DIR ...).
 * Run:   profile MODEL.ir THREADS REPS [TOP]
 *   Prints the sums, then one line per kernel, sorted by its in-sequence time per inference:
 *   rank, kernel, calls, ms per call alone, ms per inference alone, alone with weights cold
 *   and in sequence, the difference (in sequence - alone), share of the in-sequence sum,
 *   GFLOP/s in sequence, schedule source.
 * The in-sequence sum is still not the model's latency: every tensor here has a buffer of its
 * own (the model reuses one workspace) and the weights are random buffers of the same sizes, and
 * nothing here measures the entry point's own work (workspace, fork/join between calls). */
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

enum { kMaxArgs = 8, kMaxCalls = 4096, kMaxTensors = 8192 };

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

static size_t arg_bytes(const kcc_kernel_info *k, int j) {
  size_t b = k->args[j].num_elements * elem_bytes(k->args[j].elem_type);
  return b > 0 ? b : 64;
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

static double median(double *t, int n) {
  qsort(t, n, sizeof *t, cmp_double);
  return t[n / 2];
}

static void fill_random(void *p, const kcc_kernel_info *k, int j) {
  memset(p, 0, arg_bytes(k, j));
  if (k->args[j].elem_type == KCC_ELEM_F32)
    for (int64_t e = 0; e < k->args[j].num_elements; ++e) ((float *)p)[e] = 2.0f * rand() / RAND_MAX - 1.0f;
}

static void die(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "profile: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  exit(1);
}

/* ------------------------------------------------------------------ the model's calls */

typedef struct {
  const kcc_kernel_info *k;
  int arg[kMaxArgs]; /* tensor index of each argument: the inputs, then the outputs */
} call;

static char *tensor_name[kMaxTensors];
static int tensor_is_weight[kMaxTensors];
static size_t tensor_bytes[kMaxTensors];
static void *tensor_data[kMaxTensors];
static int num_tensors;

static int tensor(const char *name) {
  for (int i = 0; i < num_tensors; ++i)
    if (strcmp(tensor_name[i], name) == 0) return i;
  if (num_tensors == kMaxTensors) die("more than %s tensors%s", STR(kMaxTensors), "");
  tensor_name[num_tensors] = strdup(name);
  return num_tensors++;
}

static const kcc_kernel_info *kernel_named(const char *name) {
  for (int i = 0; i < REGISTRY_COUNT; ++i)
    if (strcmp(REGISTRY[i].name, name) == 0) return &REGISTRY[i];
  return NULL;
}

/* Splits "a, b, c" (in place) into names; returns how many. */
static int split_names(char *s, char **out, int max) {
  int n = 0;
  for (char *tok = strtok(s, ", ()"); tok; tok = strtok(NULL, ", ()")) {
    if (n == max) return -1;
    out[n++] = tok;
  }
  return n;
}

/* The calls of the `model` block of `kcc import`'s .ir: lines "OUT = KERNEL(ARGS)" or
 * "(OUT1, OUT2) = KERNEL(ARGS)". */
static int read_calls(const char *path, call *calls) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot read %s%s", path, "");
  char line[8192];
  int in_model = 0, n = 0;
  while (fgets(line, sizeof line, f)) {
    if (!in_model) {
      in_model = strncmp(line, "model ", 6) == 0;
      continue;
    }
    if (line[0] == '}') break;
    char *eq = strstr(line, " = "), *open = strchr(line, '('), *close = strrchr(line, ')');
    if (strstr(line, "= weight at")) { /* "  NAME: TYPE = weight at OFFSET" */
      char name[512];
      if (sscanf(line, " %511[^:]", name) == 1) tensor_is_weight[tensor(name)] = 1;
      continue;
    }
    if (!eq || !open || !close || open < eq) continue;
    *eq = 0;
    *open = 0;
    *close = 0;
    char *kname = eq + 3, *outs[kMaxArgs], *ins[kMaxArgs];
    while (*kname == ' ') ++kname;
    const kcc_kernel_info *k = kernel_named(kname);
    if (!k) die("%s calls %s, which the model's object does not have", path, kname);
    int no = split_names(line, outs, kMaxArgs), ni = split_names(open + 1, ins, kMaxArgs);
    if (no < 0 || ni < 0 || ni + no != k->num_args) die("%s: a call of %s with the wrong arguments", path, kname);
    if (n == kMaxCalls) die("%s: more than %s calls", path, STR(kMaxCalls));
    call *c = &calls[n++];
    c->k = k;
    for (int j = 0; j < ni + no; ++j) {
      int t = tensor(j < ni ? ins[j] : outs[j - ni]);
      c->arg[j] = t;
      if (arg_bytes(k, j) > tensor_bytes[t]) tensor_bytes[t] = arg_bytes(k, j);
    }
  }
  fclose(f);
  if (n == 0) die("%s has no model block with calls%s", path, "");
  return n;
}

/* ------------------------------------------------------------------ profile */

typedef struct {
  const kcc_kernel_info *k;
  int calls;
  double alone;    /* seconds per call, median */
  double cold;     /* the same with the weight arguments evicted before each call */
  double sequence; /* seconds per inference: the median of each of its calls, summed */
} row;

static int by_sequence(const void *a, const void *b) {
  const row *x = a, *y = b;
  return (x->sequence < y->sequence) - (x->sequence > y->sequence);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL.ir THREADS REPS [TOP]\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[2]), reps = atoi(argv[3]), top = argc > 4 ? atoi(argv[4]) : REGISTRY_COUNT;
  if (reps < 1) reps = 1;
  kcc_set_num_threads(threads);
  static call calls[kMaxCalls];
  const int ncalls = read_calls(argv[1], calls);
  row *rows = calloc(REGISTRY_COUNT, sizeof *rows);
  double *t = malloc(reps * sizeof *t);
  srand(1);

  /* Alone: each kernel REPS times in a row on its own buffers. */
  for (int i = 0; i < REGISTRY_COUNT; ++i) {
    const kcc_kernel_info *k = &REGISTRY[i];
    rows[i].k = k;
    for (int c = 0; c < ncalls; ++c) rows[i].calls += calls[c].k == k;
    if (rows[i].calls == 0) continue;
    void *a[kMaxArgs];
    if (k->num_args > kMaxArgs) die("%s: more arguments than %s", k->name, STR(kMaxArgs));
    for (int j = 0; j < k->num_args; ++j) {
      a[j] = kcc_alloc(arg_bytes(k, j));
      fill_random(a[j], k, j);
    }
    int rc = invoke(k->fn, k->num_args, a); /* warm-up */
    if (rc != 0) die("%s returned an error: %s", k->name, kcc_error_string(rc));
    for (int r = 0; r < reps; ++r) {
      double t0 = now();
      invoke(k->fn, k->num_args, a);
      t[r] = now() - t0;
    }
    rows[i].alone = median(t, reps);
    /* The arguments its first call passes weights, evicted before each timed call. */
    int weight[kMaxArgs] = {0};
    for (int c = 0; c < ncalls; ++c)
      if (calls[c].k == k) {
        for (int j = 0; j < k->num_args; ++j) weight[j] = tensor_is_weight[calls[c].arg[j]];
        break;
      }
    for (int r = 0; r < reps; ++r) {
      for (int j = 0; j < k->num_args; ++j)
        if (weight[j]) kcc_evict_from_cache(a[j], arg_bytes(k, j));
      double t0 = now();
      invoke(k->fn, k->num_args, a);
      t[r] = now() - t0;
    }
    rows[i].cold = median(t, reps);
    for (int j = 0; j < k->num_args; ++j) kcc_free(a[j]);
  }

  /* In sequence: the model's calls in order, one inference after another (one to warm up). */
  for (int i = 0; i < num_tensors; ++i) {
    tensor_data[i] = kcc_alloc(tensor_bytes[i]);
    if (!tensor_data[i]) die("out of memory for %s%s", tensor_name[i], "");
    for (size_t e = 0; e < tensor_bytes[i] / sizeof(float); ++e)
      ((float *)tensor_data[i])[e] = 2.0f * rand() / RAND_MAX - 1.0f;
  }
  double *seq = malloc((size_t)ncalls * reps * sizeof *seq), *total = malloc(reps * sizeof *total);
  for (int r = -1; r < reps; ++r) {
    double start = now();
    for (int c = 0; c < ncalls; ++c) {
      void *a[kMaxArgs];
      for (int j = 0; j < calls[c].k->num_args; ++j) a[j] = tensor_data[calls[c].arg[j]];
      double t0 = now();
      int rc = invoke(calls[c].k->fn, calls[c].k->num_args, a);
      if (rc != 0) die("%s returned an error: %s", calls[c].k->name, kcc_error_string(rc));
      if (r >= 0) seq[(size_t)c * reps + r] = now() - t0;
    }
    if (r >= 0) total[r] = now() - start;
  }
  double sum_alone = 0, sum_cold = 0, sum_seq = 0, flops = 0;
  for (int c = 0; c < ncalls; ++c) {
    const double m = median(&seq[(size_t)c * reps], reps);
    for (int i = 0; i < REGISTRY_COUNT; ++i)
      if (rows[i].k == calls[c].k) rows[i].sequence += m;
    sum_seq += m;
    flops += calls[c].k->flops;
  }
  for (int i = 0; i < REGISTRY_COUNT; ++i) {
    sum_alone += rows[i].alone * rows[i].calls;
    sum_cold += rows[i].cold * rows[i].calls;
  }
  qsort(rows, REGISTRY_COUNT, sizeof *rows, by_sequence);
  printf("%s, %d thread(s), %d calls of %d kernels, per inference: kernels alone %.1f ms (%.1f GFLOP/s), "
         "alone with weights cold %.1f ms, in sequence %.1f ms (%.1f GFLOP/s); the replayed inference %.1f ms "
         "(median of %d)\n\n",
         STR(MODEL), threads, ncalls, REGISTRY_COUNT, sum_alone * 1e3, flops / sum_alone * 1e-9, sum_cold * 1e3,
         sum_seq * 1e3, flops / sum_seq * 1e-9, median(total, reps) * 1e3, reps);
  printf("| # | kernel | calls | ms/call alone | ms/inference alone | weights cold | in sequence | difference | "
         "share | GFLOP/s in sequence | schedule |\n");
  printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (int i = 0; i < REGISTRY_COUNT && i < top; ++i) {
    const row *r = &rows[i];
    if (r->calls == 0) continue;
    printf("| %d | %s | %d | %.3f | %.2f | %.2f | %.2f | %+.2f | %.1f%% | %.1f | %s |\n", i + 1, r->k->name,
           r->calls, r->alone * 1e3, r->alone * r->calls * 1e3, r->cold * r->calls * 1e3, r->sequence * 1e3,
           (r->sequence - r->alone * r->calls) * 1e3,
           100 * r->sequence / sum_seq, r->k->flops * r->calls / r->sequence * 1e-9, r->k->schedule_source);
  }
  return 0;
}
