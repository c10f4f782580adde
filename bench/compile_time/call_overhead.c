/* bench/compile_time/call_overhead.c - the time of one call of a generated kernel: tiny16 (16
 * floats, so mostly the call: argument checks, entry, return) and sgemm_256. Prints the median
 * over runs of the mean time per call. Not a test: timings vary with machine load.
 * Built by call_overhead.sh against the object of a given kcc. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int tiny16(const float *X, float *Y);
int sgemm_256(const float *A, const float *B, float *C);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  enum { RUNS = 11 };
  static float x[16], y[16];
  static float a[256 * 256], b[256 * 256], c[256 * 256];
  double t[RUNS];
  for (int i = 0; i < 16; ++i) x[i] = (float)i;
  for (int i = 0; i < 256 * 256; ++i) a[i] = b[i] = (float)(i % 7) * 0.25f;
  for (int r = 0; r < RUNS; ++r) {
    const int calls = 2000000;
    double t0 = now();
    for (int i = 0; i < calls; ++i)
      if (tiny16(x, y) != 0) return 1;
    t[r] = (now() - t0) / calls * 1e9;
  }
  qsort(t, RUNS, sizeof t[0], cmp);
  printf("tiny16     median %.2f ns/call (min %.2f, max %.2f)\n", t[RUNS / 2], t[0], t[RUNS - 1]);
  for (int r = 0; r < RUNS; ++r) {
    const int calls = 100;
    double t0 = now();
    for (int i = 0; i < calls; ++i)
      if (sgemm_256(a, b, c) != 0) return 1;
    t[r] = (now() - t0) / calls * 1e6;
  }
  qsort(t, RUNS, sizeof t[0], cmp);
  printf("sgemm_256  median %.1f us/call (min %.1f, max %.1f)\n", t[RUNS / 2], t[0], t[RUNS - 1]);
  return 0;
}
