/* bench/bench_sgemm.c - SGEMM (M = N = K = n) compiled by kcc against OpenBLAS and a naive
 * loop, on one thread and on all threads. Checks kcc against OpenBLAS before timing.
 *
 *   bench_sgemm [--no-naive] [--one-thread] [n ...]
 *     n             sizes from 256 512 1024 2048 (default: all)
 *     --no-naive    skip the naive loop (it takes ~30 s at n = 1024)
 *     --one-thread  only the single-threaded comparison
 *
 * Each figure is the median of REPS samples; a sample repeats the call until it has run at
 * least MIN_SAMPLE_S and divides. The machine's clock drifts between runs: compare only
 * numbers from one run. */
#include <cblas.h>
#include <string.h>
#include <unistd.h>

#include "example_util.h"
#include "kcc_runtime.h"
#include "sgemm_kernels.h"

enum { REPS = 7, NAIVE_MAX_N = 1024 };
static const double MIN_SAMPLE_S = 0.05;

typedef int (*kcc_sgemm_fn)(const float *, const float *, float *);
static const struct { int n; kcc_sgemm_fn fn; } kernels[] = {
    {256, sgemm_256}, {512, sgemm_512}, {1024, sgemm_1024}, {2048, sgemm_2048}};

struct problem {
  int n;
  const float *a, *b;
  float *c;
  kcc_sgemm_fn kcc;
  int status;
};

static void run_kcc(void *q) {
  struct problem *p = q;
  p->status |= p->kcc(p->a, p->b, p->c);
}
static void run_openblas(void *q) {
  struct problem *p = q;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->n, p->n, p->n, 1.0f, p->a, p->n,
              p->b, p->n, 0.0f, p->c, p->n);
}
static void run_naive(void *q) {
  struct problem *p = q;
  int n = p->n;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      float s = 0;
      for (int k = 0; k < n; ++k) s += p->a[i * n + k] * p->b[k * n + j];
      p->c[i * n + j] = s;
    }
}

static float *alloc_random(size_t count, uint64_t seed) {
  float *p = ex_alloc(count);
  ex_fill_random(p, count, seed);
  return p;
}

int main(int argc, char **argv) {
  int all_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int thread_counts[2] = {1, all_threads};
  int n_thread_counts = all_threads > 1 ? 2 : 1;
  int naive = 1, n_sizes = 0;
  int sizes[16];
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--no-naive") == 0) naive = 0;
    else if (strcmp(argv[i], "--one-thread") == 0) n_thread_counts = 1;
    else if (atoi(argv[i]) > 0 && n_sizes < 16) sizes[n_sizes++] = atoi(argv[i]);
    else {
      fprintf(stderr, "usage: bench_sgemm [--no-naive] [--one-thread] [n ...]\n");
      return 2;
    }
  }

  printf("# SGEMM C = A * B, row-major, fp32; GFLOP/s, median of %d samples\n", REPS);
  printf("# OpenBLAS %s\n", openblas_get_config());
  printf("%6s %8s %10s %10s %10s %10s\n", "n", "threads", "kcc", "OpenBLAS", "kcc/BLAS",
         "naive");
  int failed = 0;
  for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ++ki) {
    int n = kernels[ki].n;
    if (n_sizes > 0) {
      int wanted = 0;
      for (int i = 0; i < n_sizes; ++i) wanted |= sizes[i] == n;
      if (!wanted) continue;
    }
    size_t count = (size_t)n * n;
    float *a = alloc_random(count, 1), *b = alloc_random(count, 2);
    float *c = alloc_random(count, 3), *ref = alloc_random(count, 4);
    struct problem p = {n, a, b, c, kernels[ki].fn, 0};
    struct problem blas = {n, a, b, ref, NULL, 0};

    run_openblas(&blas);
    run_kcc(&p);
    char what[64];
    snprintf(what, sizeof what, "# sgemm_%d against OpenBLAS", n);
    if (p.status != 0 || !ex_check(what, c, ref, count, 1e-4)) {
      fprintf(stderr, "sgemm_%d: kcc's result is wrong (status %d: %s)\n", n, p.status,
              kcc_error_string(p.status));
      failed = 1;
    }
    if (failed) {
      free(a), free(b), free(c), free(ref);
      continue;
    }
    double flops = 2.0 * n * (double)n * n;
    double naive_gflops = 0;
    if (naive && n <= NAIVE_MAX_N) {
      struct problem loop = {n, a, b, ref, NULL, 0};
      int reps = n >= 1024 ? 5 : REPS;
      naive_gflops = flops / ex_median_seconds(run_naive, &loop, reps, MIN_SAMPLE_S) * 1e-9;
    }
    for (int t = 0; t < n_thread_counts; ++t) {
      kcc_set_num_threads(thread_counts[t]);
      openblas_set_num_threads(thread_counts[t]);
      double g_kcc = flops / ex_median_seconds(run_kcc, &p, REPS, MIN_SAMPLE_S) * 1e-9;
      double g_blas = flops / ex_median_seconds(run_openblas, &blas, REPS, MIN_SAMPLE_S) * 1e-9;
      char naive_text[32] = "-";
      if (naive_gflops > 0 && t == 0) snprintf(naive_text, sizeof naive_text, "%.2f", naive_gflops);
      printf("%6d %8d %10.2f %10.2f %9.0f%% %10s\n", n, thread_counts[t], g_kcc, g_blas,
             100 * g_kcc / g_blas, naive_text);
      fflush(stdout);
    }
    if (p.status != 0) failed = 1;
    free(a), free(b), free(c), free(ref);
  }
  return failed;
}
