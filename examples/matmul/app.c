/* examples/matmul/app.c - SGEMM 512^3 through kcc, checked against a naive loop. */
#include "example_util.h"
#include "kcc_runtime.h"
#include "matmul.h"

enum { M = 512, N = 512, K = 512 };

struct args { const float *a, *b; float *c; int status; };

static void run_kcc(void *p) {
  struct args *x = p;
  x->status |= sgemm(x->a, x->b, x->c);
}

static void run_naive(void *p) {
  struct args *x = p;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0;
      for (int k = 0; k < K; ++k) s += x->a[i * K + k] * x->b[k * N + j];
      x->c[i * N + j] = s;
    }
}

int main(void) {
  float *a = ex_alloc((size_t)M * K), *b = ex_alloc((size_t)K * N);
  float *c = ex_alloc((size_t)M * N), *ref = ex_alloc((size_t)M * N);
  ex_fill_random(a, (size_t)M * K, 1);
  ex_fill_random(b, (size_t)K * N, 2);

  struct args kx = {a, b, c, 0}, nx = {a, b, ref, 0};
  run_naive(&nx);
  int status = sgemm(a, b, c);
  if (status != 0) {
    fprintf(stderr, "sgemm failed: %s\n", kcc_error_string(status));
    return 1;
  }
  if (!ex_check("sgemm 512x512x512", c, ref, (size_t)M * N, 1e-4)) return 1;

  double flops = 2.0 * M * N * K;
  double t_kcc = ex_median_seconds(run_kcc, &kx, 11, 0.02);
  double t_naive = ex_median_seconds(run_naive, &nx, 3, 0);
  if (kx.status != 0) return 1;
  ex_report("sgemm 512x512x512", flops, t_kcc, t_naive, kcc_get_num_threads());
  return 0;
}
