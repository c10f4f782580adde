/* tools/runner/kcc_runner.c - kcc-runner: times candidate kernels on the machine they run on.
 *
 * The protocol is in docs/runner.md. In short: one request per line on stdin (or one request
 * in the arguments), one JSON line per request on stdout:
 *   run lib=cand.so kernel=cand3 data=matmul.kccd [samples=5] [min_time=0.01] [warmup=1]
 *       [tol=1e-3] [bounds=matmul.bounds.kccd] [argv=0] [threads=0] [timeout=10] [cold=1,2]
 *   -> {"kernel":"cand3","ok":true,"error":"","max_err":1.2e-07,"reps":40,
 *       "samples":[1.1e-05,...],"median":1.1e-05}
 * Each request runs in a forked child, so a candidate that crashes or hangs is reported
 * ("crashed: signal 11", "timeout") and the runner goes on with the next request.
 *
 * Plain C11 + POSIX; built for the host and cross-built for AArch64 with libkcc_runtime linked
 * in whole and its symbols exported (-rdynamic), so the dlopen'ed candidates bind kcc_parallel_for
 * and friends to the runner's copy. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kcc_runtime.h"
#include "kccd.h"

#define MAX_SAMPLES 100

typedef struct {
  char lib[1024], kernel[256], data[1024], bounds[1024];
  uint64_t cold; /* inputs (bit i: input i) evicted from the cache before each timed call */
  int samples, warmup, threads, argv; /* argv: the symbol is `int kernel(void **args)` */
  double min_time, tol, timeout;
} request;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes s as a JSON string body (quotes and backslashes escaped, control characters dropped). */
static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    if ((unsigned char)*s >= 0x20) fputc(*s, out);
  }
  fputc('"', out);
}

static void report_error(FILE *out, const char *kernel, const char *msg) {
  fputs("{\"kernel\":", out);
  json_string(out, kernel);
  fputs(",\"ok\":false,\"error\":", out);
  json_string(out, msg);
  fputs("}\n", out);
  fflush(out);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Parses "key=value" tokens of a request line into r; returns 0, or -1 with a message. */
static int parse_request(char *line, request *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->samples = 5;
  r->warmup = 1;
  r->min_time = 0.01;
  r->tol = 1e-3;
  r->timeout = 10;
  char *save = NULL;
  for (char *tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
    if (strcmp(tok, "run") == 0) continue;
    char *eq = strchr(tok, '=');
    if (!eq) {
      snprintf(err, errlen, "expected key=value, got '%s'", tok);
      return -1;
    }
    *eq = 0;
    const char *k = tok, *v = eq + 1;
    if (strcmp(k, "lib") == 0) snprintf(r->lib, sizeof r->lib, "%s", v);
    else if (strcmp(k, "kernel") == 0) snprintf(r->kernel, sizeof r->kernel, "%s", v);
    else if (strcmp(k, "data") == 0) snprintf(r->data, sizeof r->data, "%s", v);
    else if (strcmp(k, "bounds") == 0) snprintf(r->bounds, sizeof r->bounds, "%s", v);
    else if (strcmp(k, "argv") == 0) r->argv = atoi(v);
    else if (strcmp(k, "samples") == 0) r->samples = atoi(v);
    else if (strcmp(k, "warmup") == 0) r->warmup = atoi(v);
    else if (strcmp(k, "threads") == 0) r->threads = atoi(v);
    else if (strcmp(k, "min_time") == 0) r->min_time = atof(v);
    else if (strcmp(k, "tol") == 0) r->tol = atof(v);
    else if (strcmp(k, "timeout") == 0) r->timeout = atof(v);
    else if (strcmp(k, "cold") == 0) {
      for (char *e;; v = e + 1) {
        long i = strtol(v, &e, 10);
        if (e == v || *v == '-' || *v == '+' || i >= 64 || (*e && *e != ',')) {
          snprintf(err, errlen, "cold= takes input indices 0..63 separated by commas, got '%s'", eq + 1);
          return -1;
        }
        r->cold |= (uint64_t)1 << i;
        if (!*e) break;
      }
    }
    else {
      snprintf(err, errlen, "unknown key '%s'", k);
      return -1;
    }
  }
  if (!r->lib[0] || !r->kernel[0] || !r->data[0]) {
    snprintf(err, errlen, "a request needs lib=, kernel= and data=");
    return -1;
  }
  if (r->samples < 3) r->samples = 3;
  if (r->samples > MAX_SAMPLES) r->samples = MAX_SAMPLES;
  return 0;
}

/* Calls the candidate: through its `int f(void **args)` entry (any argument count) or directly. */
static int call(const request *r, void *fn, void **args, unsigned nargs) {
  return r->argv ? ((int (*)(void **))fn)(args) : kccd_call(fn, args, nargs);
}

/* Seconds that `reps` calls take; with r->cold, the calls alone, each after evicting those inputs. */
static double timed_calls(const request *r, void *fn, void **args, unsigned nargs, const kccd_block *b, long reps) {
  if (!r->cold) {
    double t0 = now_seconds();
    for (long k = 0; k < reps; ++k) call(r, fn, args, nargs);
    return now_seconds() - t0;
  }
  double total = 0;
  for (long k = 0; k < reps; ++k) {
    for (unsigned i = 0; i < b->n_inputs && i < 64; ++i)
      if (r->cold >> i & 1) kcc_evict_from_cache(args[i], b->count[i] * sizeof(float));
    double t0 = now_seconds();
    call(r, fn, args, nargs);
    total += now_seconds() - t0;
  }
  return total;
}

/* Reads the per-element tolerances of `path` (one KCCD block: no inputs, one array per output of
 * `b`, each of the output's size); 0, or -1 with a message. */
static int read_bounds(const char *path, const kccd_block *b, kccd_block *t, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "bounds: cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  int rc = kccd_read(f, t, err, errlen);
  fclose(f);
  if (rc != 0) {
    if (rc > 0) snprintf(err, errlen, "bounds: %s is empty", path);
    return -1;
  }
  if (t->n_inputs != 0 || t->n_outputs != b->n_outputs) {
    snprintf(err, errlen, "bounds: %s has %u arrays for %u outputs", path, t->n_inputs + t->n_outputs, b->n_outputs);
    return -1;
  }
  for (unsigned o = 0; o < b->n_outputs; ++o)
    if (t->count[o] != b->count[b->n_inputs + o]) {
      snprintf(err, errlen, "bounds: array %u of %s has the wrong size", o, path);
      return -1;
    }
  return 0;
}

/* The work of one request (in the child): load, check against the reference, time. */
static int run_request(const request *r, FILE *out) {
  char err[2600];
  if (r->threads > 0) kcc_set_num_threads(r->threads);
  void *h = dlopen(r->lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, sizeof err, "load: %s", dlerror());
    report_error(out, r->kernel, err);
    return 1;
  }
  void *fn = dlsym(h, r->kernel);
  if (!fn) {
    snprintf(err, sizeof err, "load: no kernel '%s' in %s", r->kernel, r->lib);
    report_error(out, r->kernel, err);
    return 1;
  }
  FILE *df = fopen(r->data, "rb");
  kccd_block b;
  if (!df) {
    snprintf(err, sizeof err, "data: cannot open %s: %s", r->data, strerror(errno));
    report_error(out, r->kernel, err);
    return 1;
  }
  if (kccd_read(df, &b, err, sizeof err) != 0) {
    fclose(df);
    report_error(out, r->kernel, err);
    return 1;
  }
  fclose(df);
  kccd_block tb; /* per-element tolerances (bounds=), else tol * (1 + |ref|) */
  memset(&tb, 0, sizeof tb);
  if (r->bounds[0] && read_bounds(r->bounds, &b, &tb, err, sizeof err) != 0) {
    report_error(out, r->kernel, err);
    return 1;
  }
  unsigned nargs = b.n_inputs + b.n_outputs;
  void *args[KCCD_MAX_ARRAYS];
  float *outs[KCCD_MAX_ARRAYS];
  /* Operands in kcc_alloc_slot buffers, aligned and staggered as a model's inference passes
   * them (kcc_runtime.h); this child process exits after one request, which frees them. */
  for (unsigned i = 0; i < b.n_inputs; ++i) {
    args[i] = kcc_alloc_slot((size_t)(b.count[i] ? b.count[i] : 1) * sizeof(float), i);
    if (!args[i]) {
      report_error(out, r->kernel, "runner: out of memory for the operands");
      return 1;
    }
    memcpy(args[i], b.data[i], (size_t)b.count[i] * sizeof(float));
  }
  for (unsigned o = 0; o < b.n_outputs; ++o) {
    uint64_t n = b.count[b.n_inputs + o];
    outs[o] = (float *)kcc_alloc_slot((size_t)(n ? n : 1) * sizeof(float), b.n_inputs + o);
    if (!outs[o]) {
      report_error(out, r->kernel, "runner: out of memory for the operands");
      return 1;
    }
    for (uint64_t i = 0; i < n; ++i) outs[o][i] = NAN; /* unwritten outputs fail the check */
    args[b.n_inputs + o] = outs[o];
  }
  /* 1. correctness: one run on the given inputs, every output element vs the reference */
  int rc = call(r, fn, args, nargs);
  if (rc != 0) {
    snprintf(err, sizeof err, "status %d", rc);
    report_error(out, r->kernel, err);
    return 1;
  }
  double max_err = 0;
  for (unsigned o = 0; o < b.n_outputs; ++o) {
    const float *ref = b.data[b.n_inputs + o];
    for (uint64_t i = 0; i < b.count[b.n_inputs + o]; ++i) {
      double x = outs[o][i], y = ref[i], e = fabs(x - y) / (1 + fabs(y));
      double allowed = tb.data[o] ? tb.data[o][i] : r->tol * (1 + fabs(y));
      if (!(fabs(x - y) <= allowed)) {
        snprintf(err, sizeof err, "wrong result: output %u element %llu: got %.9g, expected %.9g, tolerance %.3g", o,
                 (unsigned long long)i, x, y, allowed);
        report_error(out, r->kernel, err);
        return 1;
      }
      if (e > max_err) max_err = e;
    }
  }
  /* 2. timing: warm-up, then samples of `reps` calls each lasting at least min_time; with cold=,
   * those inputs are evicted before each call and each call is timed alone (the eviction is not) */
  for (int w = 0; w < r->warmup; ++w) call(r, fn, args, nargs);
  long reps = 1;
  for (;;) {
    double dt = timed_calls(r, fn, args, nargs, &b, reps);
    if (dt >= r->min_time || reps >= (1L << 30)) break;
    reps = dt <= 0 ? reps * 16 : (long)(reps * (1.2 * r->min_time / dt)) + 1;
  }
  double samples[MAX_SAMPLES], sorted[MAX_SAMPLES];
  for (int s = 0; s < r->samples; ++s) samples[s] = sorted[s] = timed_calls(r, fn, args, nargs, &b, reps) / (double)reps;
  qsort(sorted, (size_t)r->samples, sizeof(double), cmp_double);
  fputs("{\"kernel\":", out);
  json_string(out, r->kernel);
  fprintf(out, ",\"ok\":true,\"error\":\"\",\"max_err\":%.3g,\"reps\":%ld,\"samples\":[", max_err, reps);
  for (int s = 0; s < r->samples; ++s) fprintf(out, "%s%.6g", s ? "," : "", samples[s]);
  fprintf(out, "],\"median\":%.6g}\n", sorted[r->samples / 2]);
  fflush(out);
  return 0;
}

/* Runs one request in a forked child; reports crashes and timeouts on its behalf. */
static void serve(char *line) {
  request r;
  char err[512];
  if (parse_request(line, &r, err, sizeof err) != 0) {
    report_error(stdout, "", err);
    return;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    report_error(stdout, r.kernel, "runner: pipe failed");
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    report_error(stdout, r.kernel, "runner: fork failed");
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    FILE *out = fdopen(fds[1], "w");
    alarm((unsigned)(r.timeout + 1));
    _exit(run_request(&r, out) == 0 ? 0 : 1);
  }
  close(fds[1]);
  char buf[16384];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof buf - 1 && (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
  buf[n] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n > 0 && buf[n - 1] == '\n') {
    fputs(buf, stdout);
    fflush(stdout);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    snprintf(err, sizeof err, "timeout: more than %g s", r.timeout);
    report_error(stdout, r.kernel, err);
  } else if (WIFSIGNALED(status)) {
    snprintf(err, sizeof err, "crashed: signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    report_error(stdout, r.kernel, err);
  } else {
    snprintf(err, sizeof err, "crashed: exit status %d without a result", WEXITSTATUS(status));
    report_error(stdout, r.kernel, err);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    puts("usage: kcc-runner [run] lib=SO kernel=NAME data=FILE.kccd [samples=5] [min_time=0.01]\n"
         "                  [warmup=1] [tol=1e-3] [bounds=FILE.kccd] [argv=0] [threads=0] [timeout=10]\n"
         "       kcc-runner            (requests on stdin, one per line; see docs/runner.md)");
    return 0;
  }
  if (argc > 1) {
    char line[4096] = "";
    for (int i = 1; i < argc; ++i) {
      strncat(line, argv[i], sizeof line - strlen(line) - 2);
      strncat(line, " ", sizeof line - strlen(line) - 1);
    }
    serve(line);
    return 0;
  }
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char *p = line;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p == '\n' || *p == 0 || *p == '#') continue;
    if (strncmp(p, "quit", 4) == 0) break;
    if (strncmp(p, "hello", 5) == 0) {
      printf("{\"runner\":\"kcc-runner\",\"protocol\":1,\"arch\":\"%s\"}\n",
#if defined(__aarch64__)
             "aarch64"
#elif defined(__x86_64__)
             "x86_64"
#else
             "unknown"
#endif
      );
      fflush(stdout);
      continue;
    }
    serve(p);
  }
  return 0;
}
