// bench/conv/bench_conv.cpp - kcc's tuned SGEMM 1024^3 and CNN convolution layers against
// OpenBLAS (SGEMM) and oneDNN (SGEMM and convolution), one thread and all threads, in one run.
//
//   bench_conv [--one-thread] [--reps N] [LAYER ...]
//
// kcc's kernels are compiled at build time from conv.ir with the schedules locked in conv.kreg
// (produced by the tuning study in bench/tuning; see README.md). Activations and results are
// NCHW, weights OIHW (what kcc's kernels take). oneDNN is timed twice:
//   onednn      format_tag::any for source, weights and destination: oneDNN picks its blocked
//               layouts (nChw16c / nChw8c activations, blocked weights); the reorders from and
//               to NCHW are done once outside the timed region (as a framework would keep the
//               whole network in the blocked layout)
//   onednn-nchw plain NCHW / OIHW forced on the primitive (the layout kcc computes in)
// Each figure is GFLOP/s from the median of REPS samples, each sample >= 50 ms of repeated calls;
// the samples of one row are taken in rounds (one of each function per round), and each ratio
// column is the median over rounds of the ratio within a round.
// kcc-hand is bench/sgemm.ir's hand-written SGEMM schedule (the one bench_sgemm times).
// kcc-16c are the same layers written in oneDNN's blocked layout (conv16c.ir: nChw16c
// activations, OIhw16i16o weights; tuned schedules locked in conv16c.kreg), kcc-16c-hand the
// hand-written schedules of conv16c_hand.ir; their inputs are reordered to the blocked layout
// outside the timed region, as oneDNN's are. The ratios that compare like with like are
// kcc-16c / oneDNN (both blocked) and kcc / oneDNN-nchw (both NCHW).
// The BERT kernels of bert.ir (schedules locked in bert.kreg) are timed against OpenBLAS and
// oneDNN: Q K^T as 12 SGEMMs with K transposed (cblas_sgemm / dnnl_sgemm 'N','T'), the dense
// layer + bias + tanh GELU as oneDNN's matmul with the bias and a gelu_tanh post-op (fused, as
// kcc's), and as OpenBLAS's SGEMM alone (the GEMM part only: a lower bound of its time).
// Every kcc output is checked against oneDNN's (NCHW) and OpenBLAS's before timing.
#include <cblas.h>
#include <omp.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "dnnl.hpp"

extern "C" {
#include "conv16c_hand_kernels.h"
#include "conv16c_kernels.h"
#include "conv_kernels.h"
#include "bert_kernels.h"
#include "sgemm_kernels.h"  // bench/sgemm.ir: the hand-written SGEMM schedule, for reference
#include "example_util.h"
#include "kcc_runtime.h"
}

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

int g_reps = 7;
const double kMinSample = 0.05;

using ConvFn = int (*)(const float *, const float *, float *);

struct Layer {
  const char *name;
  ConvFn kcc, kcc16c, kcc16c_hand;
  int n, c, h, w, f, kh, kw, stride, pad;
  bool depthwise;
  bool blocked_input() const { return c % 16 == 0; }  // the stem (3 channels) reads NCHW
  int oh() const { return (h + 2 * pad - kh) / stride + 1; }
  int ow() const { return (w + 2 * pad - kw) / stride + 1; }
  double flops() const {
    return 2.0 * n * f * oh() * ow() * (depthwise ? 1 : c) * kh * kw;
  }
};

#define KCC_LAYER(name) name, name##_16c, name##_16c_hand
const Layer kLayers[] = {
    {"resnet_conv3x3", KCC_LAYER(resnet_conv3x3), 1, 64, 56, 56, 64, 3, 3, 1, 1, false},
    {"resnet_conv1x1", KCC_LAYER(resnet_conv1x1), 1, 256, 56, 56, 64, 1, 1, 1, 0, false},
    {"resnet_conv3x3_s2", KCC_LAYER(resnet_conv3x3_s2), 1, 128, 28, 28, 256, 3, 3, 2, 1, false},
    {"resnet_conv7x7_s2", KCC_LAYER(resnet_conv7x7_s2), 1, 3, 224, 224, 64, 7, 7, 2, 3, false},
    {"vgg_conv3x3", KCC_LAYER(vgg_conv3x3), 1, 512, 14, 14, 512, 3, 3, 1, 1, false},
    {"mobilenet_dw3x3", KCC_LAYER(mobilenet_dw3x3), 1, 144, 56, 56, 144, 3, 3, 1, 1, true},
};
#undef KCC_LAYER

/// NCHW -> nChw16c ([N][C/16][H][W][16]); C a multiple of 16.
void to_nchw16c(const float *x, float *out, int n, int c, int h, int w) {
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < w; ++xx)
          out[((((size_t)i * (c / 16) + ch / 16) * h + y) * w + xx) * 16 + ch % 16] =
              x[(((size_t)i * c + ch) * h + y) * w + xx];
}

/// nChw16c -> NCHW.
void from_nchw16c(const float *x, float *out, int n, int c, int h, int w) {
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch)
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < w; ++xx)
          out[(((size_t)i * c + ch) * h + y) * w + xx] =
              x[((((size_t)i * (c / 16) + ch / 16) * h + y) * w + xx) * 16 + ch % 16];
}

/// The weights of conv16c.ir's kernels from OIHW (depthwise: CHW): [F/16][C/16][KH][KW][16i][16o];
/// the stem (input not blocked) [F/16][C][KH][KW][16o]; depthwise [C/16][KH][KW][16].
void block_weights(const Layer &L, const float *w, float *out) {
  const int kk = L.kh * L.kw;
  if (L.depthwise) {
    for (int ch = 0; ch < L.c; ++ch)
      for (int k = 0; k < kk; ++k) out[((size_t)(ch / 16) * kk + k) * 16 + ch % 16] = w[(size_t)ch * kk + k];
    return;
  }
  for (int f = 0; f < L.f; ++f)
    for (int ch = 0; ch < L.c; ++ch)
      for (int k = 0; k < kk; ++k) {
        const float v = w[((size_t)f * L.c + ch) * kk + k];
        if (L.blocked_input())
          out[((((size_t)(f / 16) * (L.c / 16) + ch / 16) * kk + k) * 16 + ch % 16) * 16 + f % 16] = v;
        else
          out[(((size_t)(f / 16) * L.c + ch) * kk + k) * 16 + f % 16] = v;
      }
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The runtimes of one row timed in rounds: each round takes one sample (>= kMinSample of
/// repeated calls) of every function in turn, after one warm-up call each. The machine's speed
/// drifts by 5-10% over a minute here; a ratio taken within one round sees both sides at the same
/// speed, where a ratio of two medians timed one after the other does not.
struct Rounds {
  std::vector<std::vector<double>> samples;  // [function][round], seconds per call
  double median(size_t i) const { return median_of(samples[i]); }
  /// Median over rounds of time(j) / time(i): how many times faster i ran than j.
  double speedup(size_t i, size_t j) const {
    std::vector<double> r;
    for (size_t k = 0; k < samples[i].size(); ++k) r.push_back(samples[j][k] / samples[i][k]);
    return median_of(r);
  }
};

Rounds time_rounds(const std::vector<std::function<void()>> &fns) {
  Rounds out;
  out.samples.resize(fns.size());
  for (auto &f : fns) f();
  for (int r = 0; r < g_reps; ++r)
    for (size_t i = 0; i < fns.size(); ++i) {
      int calls = 0;
      const double t0 = ex_now();
      double dt;
      do {
        fns[i]();
        ++calls;
        dt = ex_now() - t0;
      } while (dt < kMinSample);
      out.samples[i].push_back(dt / calls);
    }
  return out;
}

struct DnnlConv {
  convolution_forward prim;
  memory src, wei, dst;       // in the primitive's layouts
  memory user_dst;            // NCHW
  engine eng;
  stream s;
  DnnlConv(const Layer &L, bool any, const float *x, const float *wt, float *y)
      : eng(engine::kind::cpu, 0), s(eng) {
    memory::dims sd{L.n, L.c, L.h, L.w}, dd{L.n, L.f, L.oh(), L.ow()};
    memory::dims wd = L.depthwise ? memory::dims{L.c, 1, 1, L.kh, L.kw} : memory::dims{L.f, L.c, L.kh, L.kw};
    tag wtag = L.depthwise ? tag::goihw : tag::oihw;
    memory::desc smd(sd, dt::f32, any ? tag::any : tag::nchw), wmd(wd, dt::f32, any ? tag::any : wtag),
        dmd(dd, dt::f32, any ? tag::any : tag::nchw);
    convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, smd, wmd, dmd,
                                {L.stride, L.stride}, {L.pad, L.pad}, {L.pad, L.pad});
    convolution_forward::primitive_desc pd(d, eng);
    prim = convolution_forward(pd);
    memory usrc({sd, dt::f32, tag::nchw}, eng, const_cast<float *>(x));
    memory uwei({wd, dt::f32, wtag}, eng, const_cast<float *>(wt));
    user_dst = memory({dd, dt::f32, tag::nchw}, eng, y);
    src = memory(pd.src_desc(), eng);
    wei = memory(pd.weights_desc(), eng);
    dst = memory(pd.dst_desc(), eng);
    reorder(usrc, src).execute(s, usrc, src);
    reorder(uwei, wei).execute(s, uwei, wei);
    s.wait();
    impl = pd.impl_info_str();
  }
  std::string impl;
  void run() {
    prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    s.wait();
  }
  void to_user() {
    reorder(dst, user_dst).execute(s, dst, user_dst);
    s.wait();
  }
};

/// oneDNN matmul Y = gelu_tanh(X W^T + b), W stored [N, K].
struct DnnlDenseGelu {
  engine eng;
  stream s;
  matmul prim;
  memory x, w, b, y;
  std::string impl;
  DnnlDenseGelu(int m, int n, int k, const float *xp, const float *wp, const float *bp, float *yp)
      : eng(engine::kind::cpu, 0), s(eng) {
    memory::desc xd({m, k}, dt::f32, tag::ab), wd({k, n}, dt::f32, tag::ba), bd({1, n}, dt::f32, tag::ab),
        yd({m, n}, dt::f32, tag::ab);
    post_ops po;
    po.append_eltwise(1.0f, algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
    primitive_attr attr;
    attr.set_post_ops(po);
    matmul::primitive_desc pd(matmul::desc(xd, wd, bd, yd), attr, eng);
    prim = matmul(pd);
    x = memory(xd, eng, const_cast<float *>(xp));
    w = memory(wd, eng, const_cast<float *>(wp));
    b = memory(bd, eng, const_cast<float *>(bp));
    y = memory(yd, eng, yp);
    impl = pd.impl_info_str();
  }
  void run() {
    prim.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}});
    s.wait();
  }
};

void set_threads(int t) {
  kcc_set_num_threads(t);
  openblas_set_num_threads(t);
  omp_set_num_threads(t);
}

float *random_buffer(size_t n, uint64_t seed) {
  float *p = ex_alloc(n);
  ex_fill_random(p, n, seed);
  return p;
}

}  // namespace

int main(int argc, char **argv) {
  // Three thread pools share this process (kcc's, OpenBLAS's, oneDNN's OpenMP). libgomp's
  // default active wait kept an OpenMP thread spinning on the second core while kcc's pool ran,
  // and oneDNN's 2-thread runs fell to 1-30 GFLOP/s. Passive waiting for every library; libgomp
  // reads the variable when it loads, so set it and start again.
  if (!getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
  }
  bool one_thread = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--one-thread")) one_thread = true;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = atoi(argv[++i]);
    else only.push_back(argv[i]);
  }
  const int all = omp_get_num_procs();
  std::vector<int> thread_counts{1};
  if (!one_thread && all > 1) thread_counts.push_back(all);
  auto wanted = [&](const char *name) {
    return only.empty() || std::find(only.begin(), only.end(), std::string(name)) != only.end();
  };
  printf("# GFLOP/s, median of %d samples (each >= %.0f ms, taken in rounds; ratios: median per round); oneDNN %d.%d.%d, OpenBLAS %s; OMP_WAIT_POLICY=%s\n",
         g_reps, kMinSample * 1e3, dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch,
         openblas_get_config(), getenv("OMP_WAIT_POLICY"));
  int failures = 0;

  // SGEMM 1024^3: kcc (tuned) vs OpenBLAS vs oneDNN's dnnl_sgemm.
  if (wanted("sgemm1024")) {
    const int n = 1024;
    float *a = random_buffer((size_t)n * n, 1), *b = random_buffer((size_t)n * n, 2);
    float *c = ex_alloc((size_t)n * n), *ref = ex_alloc((size_t)n * n);
    const double fl = 2.0 * n * n * n;
    set_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, ref, n);
    if (sgemm1024(a, b, c) != 0 || !ex_check("kcc sgemm1024", c, ref, (size_t)n * n, 1e-4)) ++failures;
    if (sgemm_1024(a, b, c) != 0 || !ex_check("kcc sgemm_1024 (hand)", c, ref, (size_t)n * n, 1e-4)) ++failures;
    printf("\n%-18s %7s %9s %9s %9s %9s %10s %10s %10s\n", "sgemm", "threads", "kcc", "kcc-hand", "OpenBLAS", "oneDNN",
           "kcc/OBLAS", "kcc/oneDNN", "hand/OBLAS");
    for (int t : thread_counts) {
      set_threads(t);
      const Rounds r = time_rounds({[&] { sgemm1024(a, b, c); }, [&] { sgemm_1024(a, b, c); },
                                    [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); },
                                    [&] { dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); }});
      printf("%-18s %7d %9.1f %9.1f %9.1f %9.1f %9.0f%% %9.0f%% %9.0f%%\n", "sgemm1024", t, fl / r.median(0) * 1e-9,
             fl / r.median(1) * 1e-9, fl / r.median(2) * 1e-9, fl / r.median(3) * 1e-9, 100 * r.speedup(0, 2),
             100 * r.speedup(0, 3), 100 * r.speedup(1, 2));
      fflush(stdout);
    }
    free(a), free(b), free(c), free(ref);
  }

  // BERT: attention scores and the dense + GELU layer.
  if (wanted("bert_qk") || wanted("bert_dense_gelu")) {
    const int H = 12, T = 128, D = 64, M = 128, N = 768, K = 768;
    float *q = random_buffer((size_t)H * T * D, 11), *kk = random_buffer((size_t)H * T * D, 12);
    float *sc = ex_alloc((size_t)H * T * T), *sref = ex_alloc((size_t)H * T * T);
    float *x = random_buffer((size_t)M * K, 13), *w = random_buffer((size_t)N * K, 14), *b = random_buffer(N, 15);
    float *y = ex_alloc((size_t)M * N), *yref = ex_alloc((size_t)M * N);
    auto blas_qk = [&](float *out) {
      for (int h = 0; h < H; ++h)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, q + (size_t)h * T * D, D,
                    kk + (size_t)h * T * D, D, 0.0f, out + (size_t)h * T * T, T);
    };
    auto dnnl_qk = [&](float *out) {
      for (int h = 0; h < H; ++h)
        dnnl_sgemm('N', 'T', T, T, D, 1.0f, q + (size_t)h * T * D, D, kk + (size_t)h * T * D, D, 0.0f,
                   out + (size_t)h * T * T, T);
    };
    // The reference of the dense layer: OpenBLAS's GEMM, then bias and GELU in double.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, yref, N);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double v = (double)yref[(size_t)i * N + j] + b[j];
        yref[(size_t)i * N + j] = (float)(0.5 * v * (1.0 + std::tanh(0.7978845608 * (v + 0.044715 * v * v * v))));
      }
    blas_qk(sref);
    printf("\n%-18s %7s %9s %9s %9s %9s %10s %10s  %s\n", "transformer", "threads", "kcc", "OpenBLAS", "oneDNN",
           "BLAS-gemm", "kcc/BLAS", "kcc/oneDNN", "oneDNN implementation");
    for (int t : thread_counts) {
      set_threads(t);
      DnnlDenseGelu dg(M, N, K, x, w, b, y);
      if (t == thread_counts.front()) {
        if (bert_qk(q, kk, sc) != 0 || !ex_check("kcc bert_qk", sc, sref, (size_t)H * T * T, 1e-4)) ++failures;
        dnnl_qk(sc);
        if (!ex_check("oneDNN Q K^T", sc, sref, (size_t)H * T * T, 1e-4)) ++failures;
        if (bert_dense_gelu(x, w, b, y) != 0 || !ex_check("kcc bert_dense_gelu", y, yref, (size_t)M * N, 1e-4))
          ++failures;
        dg.run();
        if (!ex_check("oneDNN matmul + gelu_tanh", y, yref, (size_t)M * N, 1e-3)) ++failures;
      }
      if (wanted("bert_qk")) {
        const double fl = 2.0 * H * T * T * D;
        const Rounds r = time_rounds({[&] { bert_qk(q, kk, sc); }, [&] { blas_qk(sc); }, [&] { dnnl_qk(sc); }});
        printf("%-18s %7d %9.1f %9.1f %9.1f %9s %9.0f%% %9.0f%%  dnnl_sgemm x 12\n", "bert_qk", t, fl / r.median(0) * 1e-9,
               fl / r.median(1) * 1e-9, fl / r.median(2) * 1e-9, "-", 100 * r.speedup(0, 1), 100 * r.speedup(0, 2));
      }
      if (wanted("bert_dense_gelu")) {
        const double fl = 2.0 * M * N * K;
        const Rounds r = time_rounds({[&] { bert_dense_gelu(x, w, b, y); }, [&] { dg.run(); },
                                      [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N); }});
        printf("%-18s %7d %9.1f %9s %9.1f %9.1f %9.0f%% %9.0f%%  %s\n", "bert_dense_gelu", t, fl / r.median(0) * 1e-9, "-",
               fl / r.median(1) * 1e-9, fl / r.median(2) * 1e-9, 100 * r.speedup(0, 2), 100 * r.speedup(0, 1),
               dg.impl.c_str());
      }
      fflush(stdout);
    }
    free(q), free(kk), free(sc), free(sref), free(x), free(w), free(b), free(y), free(yref);
  }

  printf("\n%-18s %7s %9s %9s %9s %9s %11s %10s %10s %12s  %s\n", "layer", "threads", "kcc", "kcc-16c", "16c-hand",
         "oneDNN", "oneDNN-nchw", "16c/oneDNN", "hand/oneDNN", "kcc/dnn-nchw", "oneDNN implementation (any / nchw)");
  for (const Layer &L : kLayers) {
    if (!wanted(L.name)) continue;
    size_t xs = (size_t)L.n * L.c * L.h * L.w, ys = (size_t)L.n * L.f * L.oh() * L.ow();
    size_t ws = L.depthwise ? (size_t)L.c * L.kh * L.kw : (size_t)L.f * L.c * L.kh * L.kw;
    float *x = random_buffer(xs, 3), *w = random_buffer(ws, 4), *y = ex_alloc(ys), *ref = ex_alloc(ys);
    // The blocked layouts for kcc-16c (reordered once, like oneDNN's inputs).
    float *xb = L.blocked_input() ? ex_alloc(xs) : x, *wb = ex_alloc(ws), *yb = ex_alloc(ys);
    if (L.blocked_input()) to_nchw16c(x, xb, L.n, L.c, L.h, L.w);
    block_weights(L, w, wb);
    for (int t : thread_counts) {
      set_threads(t);
      DnnlConv blocked(L, true, x, w, ref), plain(L, false, x, w, ref);
      if (t == thread_counts.front()) {
        blocked.run();
        blocked.to_user();
        if (L.kcc(x, w, y) != 0 || !ex_check(L.name, y, ref, ys, 1e-4)) ++failures;
        for (ConvFn fn : {L.kcc16c, L.kcc16c_hand}) {
          std::fill(yb, yb + ys, NAN);
          if (fn(xb, wb, yb) != 0) ++failures;
          from_nchw16c(yb, y, L.n, L.f, L.oh(), L.ow());
          if (!ex_check(fn == L.kcc16c ? "kcc-16c" : "kcc-16c-hand", y, ref, ys, 1e-4)) ++failures;
        }
      }
      const Rounds r = time_rounds({[&] { L.kcc(x, w, y); }, [&] { L.kcc16c(xb, wb, yb); },
                                    [&] { L.kcc16c_hand(xb, wb, yb); }, [&] { blocked.run(); }, [&] { plain.run(); }});
      const double fl = L.flops();
      printf("%-18s %7d %9.1f %9.1f %9.1f %9.1f %11.1f %9.0f%% %10.0f%% %11.0f%%  %s / %s\n", L.name, t,
             fl / r.median(0) * 1e-9, fl / r.median(1) * 1e-9, fl / r.median(2) * 1e-9, fl / r.median(3) * 1e-9,
             fl / r.median(4) * 1e-9, 100 * r.speedup(1, 3), 100 * r.speedup(2, 3), 100 * r.speedup(0, 4),
             blocked.impl.c_str(), plain.impl.c_str());
      fflush(stdout);
    }
    if (L.blocked_input()) free(xb);
    free(x), free(w), free(y), free(ref), free(wb), free(yb);
  }
  if (failures) fprintf(stderr, "bench_conv: %d kernel(s) gave wrong results\n", failures);
  return failures ? 1 : 0;
}
