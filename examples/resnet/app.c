/* examples/resnet/app.c - torchvision's ResNet-18, compiled from ONNX by kcc_add_model, on a
 * 224x224 picture: checks the logits against PyTorch's, prints the latency and the top 5.
 * The model, the picture and PyTorch's output come from export.py at build time.
 *   resnet_app [DATA_DIR]    (default: the folder the build exported them to) */
#include <string.h>

#include "example_util.h"
#include "kcc_runtime.h"
#include "resnet18.h"

#ifndef RESNET_DATA_DIR
#define RESNET_DATA_DIR "."
#endif
enum { IN = KCC_RESNET18_INPUT_SIZE, OUT = KCC_RESNET18_OUTPUT_SIZE, RUNS = 11 };

static int load(const char *dir, const char *file, float *v, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "rb");
  size_t got = f ? fread(v, sizeof *v, n, f) : 0;
  if (f) fclose(f);
  if (got != n) fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
  return got == n;
}

/* Line `index` of DIR/labels.txt into buf, or "class <index>" without one. */
static const char *label(const char *dir, int index, char *buf, size_t size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/labels.txt", dir);
  snprintf(buf, size, "class %d", index);
  FILE *f = fopen(path, "r");
  if (!f) return buf;
  for (int i = 0; i <= index && fgets(buf, (int)size, f); ++i)
    if (i == index) buf[strcspn(buf, "\n")] = 0;
  fclose(f);
  return buf;
}

/* The indices of the 5 largest of v[0..n). */
static void top5(const float *v, int n, int best[5]) {
  for (int k = 0; k < 5; ++k) {
    best[k] = -1;
    for (int i = 0; i < n; ++i) {
      int taken = 0;
      for (int j = 0; j < k; ++j) taken |= best[j] == i;
      if (!taken && (best[k] < 0 || v[i] > v[best[k]])) best[k] = i;
    }
  }
}

struct args { void *ws; const float *x; float *y; int status; };

static void run(void *p) {
  struct args *a = p;
  a->status |= resnet18_run(a->ws, a->x, a->y);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : RESNET_DATA_DIR;
  float *x = ex_alloc(IN), *y = ex_alloc(OUT), *ref = ex_alloc(OUT);
  if (!load(dir, "input.bin", x, IN) || !load(dir, "reference.bin", ref, OUT)) return 2;

  /* The simplest call: the model allocates its workspace itself. */
  int status = resnet18(x, y);
  if (status != 0) {
    fprintf(stderr, "resnet18 failed: %s\n", kcc_error_string(status));
    return 1;
  }
  if (!ex_check("resnet18 1x3x224x224 against PyTorch", y, ref, OUT, 1e-4)) return 1;

  /* For repeated calls, one workspace of the caller's (one per thread calling at once). */
  struct args a = {kcc_alloc(resnet18_workspace_size()), x, y, 0};
  if (!a.ws) return 2;
  double t = ex_median_seconds(run, &a, RUNS, 0);
  kcc_free(a.ws);
  if (a.status != 0) {
    fprintf(stderr, "resnet18_run failed: %s\n", kcc_error_string(a.status));
    return 1;
  }
  printf("resnet18: %.2f ms per image (median of %d runs, %d threads), workspace %.1f MB, "
         "weights %.1f MB\n",
         t * 1e3, RUNS, kcc_get_num_threads(), KCC_RESNET18_WORKSPACE_BYTES / 1e6,
         KCC_RESNET18_WEIGHTS_BYTES / 1e6);

  int best[5], want[5];
  top5(y, OUT, best);
  top5(ref, OUT, want);
  printf("top 5 (random weights: an untrained network, the classes are arbitrary):\n");
  for (int k = 0; k < 5; ++k) {
    char name[256];
    printf("  %4d  %8.4f  %s\n", best[k], (double)y[best[k]], label(dir, best[k], name, sizeof name));
  }
  if (best[0] != want[0]) {
    fprintf(stderr, "top class %d, PyTorch's is %d\n", best[0], want[0]);
    return 1;
  }
  return 0;
}
