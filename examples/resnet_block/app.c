/* examples/resnet_block/app.c - a ResNet 3x3 convolution + bias + ReLU through kcc, checked
 * against a naive loop. */
#include "example_util.h"
#include "kcc_runtime.h"
#include "resnet_block.h"

enum { CH = 64, H = 56, WD = 56, R = 3 };

struct args { const float *x, *w, *b; float *y; int status; };

static void run_naive(void *p) {
  struct args *a = p;
  for (int f = 0; f < CH; ++f)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < WD; ++x) {
        float s = 0;
        for (int c = 0; c < CH; ++c)
          for (int r = 0; r < R; ++r)
            for (int q = 0; q < R; ++q) {
              int iy = y + r - 1, ix = x + q - 1;
              if (iy < 0 || iy >= H || ix < 0 || ix >= WD) continue;
              s += a->x[(c * H + iy) * WD + ix] * a->w[((f * CH + c) * R + r) * R + q];
            }
        s += a->b[f];
        a->y[(f * H + y) * WD + x] = s > 0 ? s : 0;
      }
}

static void run_kcc(void *p) {
  struct args *a = p;
  a->status |= conv3x3(a->x, a->w, a->b, a->y);
}

int main(void) {
  size_t nx = (size_t)CH * H * WD, nw = (size_t)CH * CH * R * R;
  float *x = ex_alloc(nx), *w = ex_alloc(nw), *b = ex_alloc(CH);
  float *y = ex_alloc(nx), *ref = ex_alloc(nx);
  ex_fill_random(x, nx, 1);
  ex_fill_random(w, nw, 2);
  ex_fill_random(b, CH, 3);

  struct args kx = {x, w, b, y, 0}, rx = {x, w, b, ref, 0};
  run_naive(&rx);
  int status = conv3x3(x, w, b, y);
  if (status != 0) {
    fprintf(stderr, "conv3x3 failed: %s\n", kcc_error_string(status));
    return 1;
  }
  if (!ex_check("conv3x3 64x56x56", y, ref, nx, 1e-4)) return 1;

  double flops = 2.0 * CH * CH * R * R * H * WD;
  double t_kcc = ex_median_seconds(run_kcc, &kx, 11, 0.02);
  double t_naive = ex_median_seconds(run_naive, &rx, 3, 0);
  if (kx.status != 0) return 1;
  ex_report("conv3x3 64x56x56", flops, t_kcc, t_naive, kcc_get_num_threads());
  return 0;
}
