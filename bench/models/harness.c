/* bench/models/harness.c - times one model compiled by `kcc compile MODEL.onnx -o DIR/NAME`.
 *
 * Build: cc -O2 -I DIR -I runtime -DMODEL=NAME -DMODEL_UP=UPPER_NAME harness.c DIR/NAME.o
 *        libkcc_runtime.a -lpthread -lm
 * Run:   harness INPUT.f32, then commands on stdin, one a line (bench.py drives it):
 *   run T N    set T threads (kcc_set_num_threads), call NAME() N times; prints
 *              "times S1 S2 ... SN" (seconds per call)
 *   save PATH  call NAME() once and write its output (float32, raw) to PATH; prints "saved"
 *   quit
 * It prints "ready" once the input is loaded. NAME() allocates its workspace per call (the
 * entry point an application calls); errors end the program with exit 1. */
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

#define INPUT_SIZE CAT3(KCC_, MODEL_UP, _INPUT_SIZE)
#define OUTPUT_SIZE CAT3(KCC_, MODEL_UP, _OUTPUT_SIZE)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void call(const float *x, float *y) {
  int rc = MODEL(x, y);
  if (rc != 0) {
    fprintf(stderr, "%s returned %d: %s\n", STR(MODEL), rc, kcc_error_string(rc));
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s INPUT.f32\n", argv[0]);
    return 2;
  }
  float *x = kcc_alloc(INPUT_SIZE * sizeof(float)), *y = kcc_alloc(OUTPUT_SIZE * sizeof(float));
  FILE *f = fopen(argv[1], "rb");
  if (!x || !y || !f || fread(x, sizeof(float), INPUT_SIZE, f) != INPUT_SIZE) {
    fprintf(stderr, "cannot read %d floats from %s\n", (int)INPUT_SIZE, argv[1]);
    return 1;
  }
  fclose(f);
  printf("ready\n");
  fflush(stdout);

  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    int threads, n;
    char path[4000];
    if (sscanf(line, "run %d %d", &threads, &n) == 2) {
      kcc_set_num_threads(threads);
      double *t = malloc(n * sizeof *t);
      for (int i = 0; i < n; ++i) {
        double t0 = now();
        call(x, y);
        t[i] = now() - t0;
      }
      printf("times");
      for (int i = 0; i < n; ++i) printf(" %.9f", t[i]);
      printf("\n");
      free(t);
    } else if (sscanf(line, "save %3999s", path) == 1) {
      call(x, y);
      FILE *o = fopen(path, "wb");
      if (!o || fwrite(y, sizeof(float), OUTPUT_SIZE, o) != OUTPUT_SIZE || fclose(o) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
      }
      printf("saved\n");
    } else if (strncmp(line, "quit", 4) == 0) {
      break;
    } else {
      fprintf(stderr, "unknown command: %s", line);
      return 2;
    }
    fflush(stdout);
  }
  kcc_free(x);
  kcc_free(y);
  return 0;
}
