/* bench_gpu: kcc's GPU kernels (bench/gpu/gpu.ir, compiled for nvptx-sm_90) on device buffers.
 *
 * For every kernel: one run checked against a CPU reference (SGEMM: plain C loop over all rows at
 * 1024, a sample of rows at 2048/4096; convs: a naive NCHW conv over the whole output), then
 * warm-up launches and `--reps` samples (>= 5), each a batch of back-to-back launches closed by
 * kcc_cuda_synchronize and timed with the wall clock; the median sample gives GFLOP/s.
 * peers.py measures cuBLAS / cuDNN the same way; run.sh prints the ratios.
 *
 * Usage: bench_gpu [--reps N] [--no-check] [name ...]
 * Without a CUDA driver (libcuda.so.1) or device it prints why and exits 0 (skipped).
 * Lines starting with "RESULT" are for run.sh: RESULT kcc <kernel> <GFLOP/s> <median ms>. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_kernels.h"
#include "kcc_runtime.h"

typedef int (*kernel_fn)(const float *, const float *, float *, void *);

/* A convolution Y[1, F, OH, OW] = conv(X[1, C, H, W], W[F, C, R, S]), stride, pad (NCHW). */
typedef struct conv_shape {
  int C, H, W, F, R, S, stride, pad, OH, OW;
} conv_shape;

typedef struct bench {
  const char *name;
  kernel_fn fn;
  int n;          /* SGEMM: n x n x n; 0 for a conv */
  conv_shape cv;  /* conv only */
} bench;

static const bench benches[] = {
    {"sgemm1024", sgemm1024, 1024, {0}},
    {"sgemm2048", sgemm2048, 2048, {0}},
    {"sgemm4096", sgemm4096, 4096, {0}},
    {"resnet_conv3x3", resnet_conv3x3, 0, {64, 56, 56, 64, 3, 3, 1, 1, 56, 56}},
    {"resnet_conv1x1", resnet_conv1x1, 0, {256, 56, 56, 64, 1, 1, 1, 0, 56, 56}},
    {"resnet_conv3x3_s2", resnet_conv3x3_s2, 0, {128, 28, 28, 256, 3, 3, 2, 1, 14, 14}},
    {"resnet_conv7x7_s2", resnet_conv7x7_s2, 0, {3, 224, 224, 64, 7, 7, 2, 3, 112, 112}},
};
#define NUM_BENCHES (sizeof benches / sizeof benches[0])

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float uniform_pm1(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rng_state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static void sizes(const bench *b, size_t *na, size_t *nb, size_t *nc) {
  if (b->n) {
    *na = *nb = *nc = (size_t)b->n * (size_t)b->n;
  } else {
    const conv_shape *s = &b->cv;
    *na = (size_t)s->C * s->H * s->W;
    *nb = (size_t)s->F * s->C * s->R * s->S;
    *nc = (size_t)s->F * s->OH * s->OW;
  }
}

static double flops(const bench *b) {
  if (b->n) return 2.0 * b->n * (double)b->n * b->n;
  const conv_shape *s = &b->cv;
  return 2.0 * s->F * s->C * s->R * s->S * (double)s->OH * s->OW;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Compares got with the reference: |got - ref| <= 1e-4 * sum|terms| + 1e-6 (FP32 accumulation in
 * another order). Returns the number of mismatches; reports the first. */
static long check_value(const char *name, size_t idx, float got, double ref, double abs_sum, long bad) {
  double tol = 1e-4 * abs_sum + 1e-6;
  if (!(fabs((double)got - ref) <= tol)) { /* also catches NaN */
    if (bad == 0)
      fprintf(stderr, "  %s: first mismatch at element %zu: got %.6g, expected %.6g (tolerance %.3g)\n", name, idx,
              got, ref, tol);
    return 1;
  }
  return 0;
}

/* SGEMM reference: every row at n <= 1024, else 32 rows spread over the matrix. */
static long check_sgemm(const bench *b, const float *A, const float *B, const float *C) {
  int n = b->n, rows = n <= 1024 ? n : 32;
  double *acc = malloc(sizeof(double) * n), *abs_acc = malloc(sizeof(double) * n);
  long bad = 0;
  for (int t = 0; t < rows; ++t) {
    int i = rows == n ? t : (int)(((long)t * 7919 + 13) % n);
    for (int j = 0; j < n; ++j) acc[j] = abs_acc[j] = 0;
    for (int k = 0; k < n; ++k) {
      double a = A[(size_t)i * n + k];
      const float *brow = B + (size_t)k * n;
      for (int j = 0; j < n; ++j) {
        acc[j] += a * brow[j];
        abs_acc[j] += fabs(a * brow[j]);
      }
    }
    for (int j = 0; j < n; ++j)
      bad += check_value(b->name, (size_t)i * n + j, C[(size_t)i * n + j], acc[j], abs_acc[j], bad);
  }
  free(acc);
  free(abs_acc);
  if (rows != n) printf("  %s: checked %d of %d rows against the CPU loop\n", b->name, rows, n);
  return bad;
}

/* Naive NCHW convolution over the whole output. */
static long check_conv(const bench *b, const float *X, const float *Wt, const float *Y) {
  const conv_shape *s = &b->cv;
  long bad = 0;
  for (int f = 0; f < s->F; ++f)
    for (int y = 0; y < s->OH; ++y)
      for (int x = 0; x < s->OW; ++x) {
        double acc = 0, abs_acc = 0;
        for (int c = 0; c < s->C; ++c)
          for (int r = 0; r < s->R; ++r) {
            int h = y * s->stride + r - s->pad;
            if (h < 0 || h >= s->H) continue;
            for (int q = 0; q < s->S; ++q) {
              int w = x * s->stride + q - s->pad;
              if (w < 0 || w >= s->W) continue;
              double t = (double)X[((size_t)c * s->H + h) * s->W + w] * Wt[(((size_t)f * s->C + c) * s->R + r) * s->S + q];
              acc += t;
              abs_acc += fabs(t);
            }
          }
        size_t idx = ((size_t)f * s->OH + y) * s->OW + x;
        bad += check_value(b->name, idx, Y[idx], acc, abs_acc, bad);
      }
  return bad;
}

static void cuda_fail(const char *what, const char *name, int rc) {
  fprintf(stderr, "bench_gpu: %s failed for %s: %s (%s)\n", what, name, kcc_error_string(rc), kcc_cuda_last_error());
  exit(1);
}

int main(int argc, char **argv) {
  int reps = 11, check = 1;
  const char *only[64];
  int num_only = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-check")) check = 0;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: %s [--reps N (>= 5)] [--no-check] [kernel ...]\n", argv[0]);
      return 2;
    } else if (num_only < 64) only[num_only++] = argv[i];
  }
  if (reps < 5) reps = 5;

  if (!kcc_cuda_available()) {
    printf("bench_gpu: skipped: no CUDA driver or device (%s)\n", kcc_cuda_last_error());
    return 0;
  }

  printf("bench_gpu: kcc kernels for nvptx-sm_90, median of %d samples (each a batch of launches "
         "+ kcc_cuda_synchronize)\n",
         reps);
  printf("%-20s %12s %10s %s\n", "kernel", "median ms", "GFLOP/s", "check");
  int failures = 0;
  for (size_t bi = 0; bi < NUM_BENCHES; ++bi) {
    const bench *b = &benches[bi];
    if (num_only) {
      int keep = 0;
      for (int i = 0; i < num_only; ++i) keep |= !strcmp(only[i], b->name);
      if (!keep) continue;
    }
    size_t na, nb, nc;
    sizes(b, &na, &nb, &nc);
    float *ha = malloc(na * sizeof(float)), *hb = malloc(nb * sizeof(float)), *hc = malloc(nc * sizeof(float));
    for (size_t i = 0; i < na; ++i) ha[i] = uniform_pm1();
    for (size_t i = 0; i < nb; ++i) hb[i] = uniform_pm1();
    for (size_t i = 0; i < nc; ++i) hc[i] = NAN;

    void *da = NULL, *db = NULL, *dc = NULL;
    int rc;
    if ((rc = kcc_cuda_alloc(&da, na * sizeof(float), NULL)) || (rc = kcc_cuda_alloc(&db, nb * sizeof(float), NULL)) ||
        (rc = kcc_cuda_alloc(&dc, nc * sizeof(float), NULL)))
      cuda_fail("kcc_cuda_alloc", b->name, rc);
    if ((rc = kcc_cuda_copy(da, ha, na * sizeof(float), 1)) || (rc = kcc_cuda_copy(db, hb, nb * sizeof(float), 1)) ||
        (rc = kcc_cuda_copy(dc, hc, nc * sizeof(float), 1)))
      cuda_fail("kcc_cuda_copy to the device", b->name, rc);

    /* One checked run. */
    if ((rc = b->fn(da, db, dc, NULL)) || (rc = kcc_cuda_synchronize())) cuda_fail("the kernel", b->name, rc);
    const char *verdict = "skipped (--no-check)";
    if (check) {
      if ((rc = kcc_cuda_copy(hc, dc, nc * sizeof(float), 0))) cuda_fail("kcc_cuda_copy to the host", b->name, rc);
      long bad = b->n ? check_sgemm(b, ha, hb, hc) : check_conv(b, ha, hb, hc);
      verdict = bad ? "FAILED" : "ok";
      if (bad) {
        fprintf(stderr, "  %s: %ld of the checked elements differ from the CPU reference\n", b->name, bad);
        ++failures;
      }
    }

    /* Batch size: enough launches for a sample of >= 2 ms (1..1000). */
    double t0 = now_seconds();
    for (int w = 0; w < 3; ++w)
      if ((rc = b->fn(da, db, dc, NULL))) cuda_fail("the kernel", b->name, rc);
    if ((rc = kcc_cuda_synchronize())) cuda_fail("kcc_cuda_synchronize", b->name, rc);
    double one = (now_seconds() - t0) / 3;
    int batch = one > 0 ? (int)(2e-3 / one) + 1 : 1000;
    if (batch > 1000) batch = 1000;

    double *samples = malloc(sizeof(double) * reps);
    for (int r = 0; r < reps; ++r) {
      double s0 = now_seconds();
      for (int k = 0; k < batch; ++k)
        if ((rc = b->fn(da, db, dc, NULL))) cuda_fail("the kernel", b->name, rc);
      if ((rc = kcc_cuda_synchronize())) cuda_fail("kcc_cuda_synchronize", b->name, rc);
      samples[r] = (now_seconds() - s0) / batch;
    }
    qsort(samples, reps, sizeof(double), cmp_double);
    double med = reps % 2 ? samples[reps / 2] : 0.5 * (samples[reps / 2 - 1] + samples[reps / 2]);
    double gflops = flops(b) / med * 1e-9;
    printf("%-20s %12.4f %10.1f %s\n", b->name, med * 1e3, gflops, verdict);
    printf("RESULT kcc %s %.2f %.5f\n", b->name, gflops, med * 1e3);
    fflush(stdout);

    free(samples);
    kcc_cuda_free(da, NULL);
    kcc_cuda_free(db, NULL);
    kcc_cuda_free(dc, NULL);
    kcc_cuda_synchronize();
    free(ha);
    free(hb);
    free(hc);
  }
  if (failures) {
    fprintf(stderr, "bench_gpu: %d kernel(s) computed wrong results\n", failures);
    return 1;
  }
  return 0;
}
