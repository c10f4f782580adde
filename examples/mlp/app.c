/* examples/mlp/app.c - a three-layer perceptron through kcc, checked against naive loops. */
#include "example_util.h"
#include "kcc_runtime.h"
#include "mlp.h"

enum { B = 64, D0 = 512, D1 = 1024, D2 = 512, D3 = 128 };

struct args {
  const float *x, *w1, *b1, *w2, *b2, *w3, *b3;
  float *h1, *h2, *y; /* h1, h2: scratch for the naive loop */
  int status;
};

/* out[i, j] = max(sum_k in[i, k] * w[k, j] + b[j], 0) */
static void dense_relu(const float *in, const float *w, const float *b, float *out, int rows,
                       int nin, int nout) {
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < nout; ++j) {
      float s = 0;
      for (int k = 0; k < nin; ++k) s += in[i * nin + k] * w[k * nout + j];
      s += b[j];
      out[i * nout + j] = s > 0 ? s : 0;
    }
}

static void run_naive(void *p) {
  struct args *a = p;
  dense_relu(a->x, a->w1, a->b1, a->h1, B, D0, D1);
  dense_relu(a->h1, a->w2, a->b2, a->h2, B, D1, D2);
  dense_relu(a->h2, a->w3, a->b3, a->y, B, D2, D3);
}

static void run_kcc(void *p) {
  struct args *a = p;
  a->status |= mlp(a->x, a->w1, a->b1, a->w2, a->b2, a->w3, a->b3, a->y);
}

/* Random weights of a layer with `nin` inputs, scaled (He) so activations stay of order one. */
static void fill_weights(float *w, int nin, int nout, uint64_t seed) {
  size_t n = (size_t)nin * nout;
  ex_fill_random(w, n, seed);
  float s = sqrtf(6.0f / (float)nin);
  for (size_t i = 0; i < n; ++i) w[i] *= s;
}

int main(void) {
  float *x = ex_alloc((size_t)B * D0);
  float *w1 = ex_alloc((size_t)D0 * D1), *b1 = ex_alloc(D1);
  float *w2 = ex_alloc((size_t)D1 * D2), *b2 = ex_alloc(D2);
  float *w3 = ex_alloc((size_t)D2 * D3), *b3 = ex_alloc(D3);
  float *h1 = ex_alloc((size_t)B * D1), *h2 = ex_alloc((size_t)B * D2);
  float *y = ex_alloc((size_t)B * D3), *ref = ex_alloc((size_t)B * D3);
  ex_fill_random(x, (size_t)B * D0, 1);
  fill_weights(w1, D0, D1, 2), fill_weights(w2, D1, D2, 3), fill_weights(w3, D2, D3, 4);
  ex_fill_random(b1, D1, 5), ex_fill_random(b2, D2, 6), ex_fill_random(b3, D3, 7);

  struct args nx = {x, w1, b1, w2, b2, w3, b3, h1, h2, ref, 0};
  struct args kx = {x, w1, b1, w2, b2, w3, b3, NULL, NULL, y, 0};
  run_naive(&nx);
  int status = mlp(x, w1, b1, w2, b2, w3, b3, y);
  if (status != 0) {
    fprintf(stderr, "mlp failed: %s\n", kcc_error_string(status));
    return 1;
  }
  if (!ex_check("mlp 64x512-1024-512-128", y, ref, (size_t)B * D3, 1e-4)) return 1;

  double flops = 2.0 * B * ((double)D0 * D1 + (double)D1 * D2 + (double)D2 * D3);
  double t_kcc = ex_median_seconds(run_kcc, &kx, 11, 0.02);
  double t_naive = ex_median_seconds(run_naive, &nx, 3, 0);
  if (kx.status != 0) return 1;
  ex_report("mlp 64x512-1024-512-128", flops, t_kcc, t_naive, kcc_get_num_threads());
  return 0;
}
