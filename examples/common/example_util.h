/* examples/common/example_util.h - what the example apps (and bench/) share: random inputs,
 * timing with medians, and the result check. Header-only C, so each example stays one app.c. */
#ifndef KCC_EXAMPLE_UTIL_H
#define KCC_EXAMPLE_UTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double ex_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Uniform in [-1, 1), never all zeros; a fixed seed so runs are comparable. */
static inline void ex_fill_random(float *p, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    p[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
}

static inline float *ex_alloc(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n * sizeof(float) + 64) != 0) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return (float *)p;
}

static int ex_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median seconds per call of fn(ctx) over `reps` samples, after one untimed warm-up call. A
 * sample repeats the call until it has run for at least min_sample_s, and divides. */
static inline double ex_median_seconds(void (*fn)(void *), void *ctx, int reps,
                                       double min_sample_s) {
  double t[64];
  if (reps > 64) reps = 64;
  fn(ctx);
  for (int r = 0; r < reps; ++r) {
    int calls = 0;
    double t0 = ex_now(), dt;
    do {
      fn(ctx);
      ++calls;
      dt = ex_now() - t0;
    } while (dt < min_sample_s);
    t[r] = dt / calls;
  }
  qsort(t, (size_t)reps, sizeof t[0], ex_cmp_double);
  return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

/* Compares `got` with the reference `want`: the summed error scaled by the summed magnitude
 * must be <= rel_tol, and no single element may be off by more than 10 * rel_tol of the
 * mean magnitude plus its own (catches a wrong tail that an average would hide). */
static inline int ex_check(const char *what, const float *got, const float *want, size_t n,
                           double rel_tol) {
  double sum_err = 0, sum_mag = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!isfinite(got[i])) {
      fprintf(stderr, "%s: element %zu is %g\n", what, i, (double)got[i]);
      return 0;
    }
    sum_err += fabs((double)got[i] - (double)want[i]);
    sum_mag += fabs((double)want[i]);
  }
  double mean_mag = sum_mag / (double)n;
  for (size_t i = 0; i < n; ++i) {
    double err = fabs((double)got[i] - (double)want[i]);
    if (err > 10 * rel_tol * (mean_mag + fabs((double)want[i]))) {
      fprintf(stderr, "%s: element %zu is %.7g, expected %.7g\n", what, i, (double)got[i],
              (double)want[i]);
      return 0;
    }
  }
  double rel = sum_mag > 0 ? sum_err / sum_mag : sum_err;
  printf("%s: relative error %.2e (tolerance %.0e)\n", what, rel, rel_tol);
  if (sum_mag == 0) {
    fprintf(stderr, "%s: the reference is all zeros, the check means nothing\n", what);
    return 0;
  }
  return rel <= rel_tol;
}

/* Prints kcc against the naive loop. */
static inline void ex_report(const char *what, double flops, double kcc_s, double naive_s,
                             int threads) {
  printf("%s: kcc %8.2f GFLOP/s (%.3f ms, %d threads)   naive loop %6.2f GFLOP/s (%.1f ms)   "
         "speed-up %.1fx\n",
         what, flops / kcc_s * 1e-9, kcc_s * 1e3, threads, flops / naive_s * 1e-9,
         naive_s * 1e3, naive_s / kcc_s);
}
#endif
