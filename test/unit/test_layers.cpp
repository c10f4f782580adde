// test/unit/test_layers.cpp - layer shorthands (ir/layers.h): each expansion is the kernel a
// user would write by hand. Compared as printed text (same stages, names, ranges and bodies)
// and, against independently written kernels, as interpreter outputs on random data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ir/interp.h"
#include "ir/parser.h"

namespace kcc {
namespace {

Kernel parse_one(const std::string &text) {
  Module m = parse_module("test.ir", text);
  EXPECT_EQ(m.kernels.size(), 1u);
  return m.kernels.at(0);
}

/// The layer kernel prints exactly as the hand-written one, and its text parses back to itself.
void expect_same_text(const std::string &layers, const std::string &hand) {
  std::string a = to_string(parse_module("layers.ir", layers));
  std::string b = to_string(parse_module("hand.ir", hand));
  EXPECT_EQ(a, b);
  EXPECT_EQ(to_string(parse_module("printed.ir", a)), a);
}

/// Both kernels (same signature) compute the same outputs on random inputs.
void expect_same_values(const std::string &layers, const std::string &hand, double tol = 1e-9) {
  Kernel a = parse_one(layers), b = parse_one(hand);
  auto in = random_inputs(a, 7);
  auto ra = interpret(a, in), rb = interpret(b, in);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t o = 0; o < ra.size(); ++o) {
    ASSERT_EQ(ra[o].size(), rb[o].size());
    for (size_t i = 0; i < ra[o].size(); ++i)
      ASSERT_NEAR(ra[o][i], rb[o][i], tol * (1 + std::fabs(rb[o][i]))) << "output " << o << " element " << i;
  }
}

// ---------------------------------------------------------------- conv2d

TEST(Layers, Conv2dStride2Pad1) {
  expect_same_text(R"(
kernel k(X: f32[1, 3, 13, 11], W: f32[8, 3, 3, 3]) -> Y: f32[1, 8, 7, 6] {
  Y = conv2d(X, W, stride=2, pad=1)
})",
                   R"(
kernel k(X: f32[1, 3, 13, 11], W: f32[8, 3, 3, 3]) -> Y: f32[1, 8, 7, 6] {
  Y_pad[n, c, h, w] = select(h >= 1 and h <= 13 and w >= 1 and w <= 11, X[n, c, h - 1, w - 1], 0.0) : f32[1, 3, 15, 13]
  Y[n, f, y, x] = sum(c, r, s) Y_pad[n, c, y * 2 + r, x * 2 + s] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dMatchesTheHandWrittenStem) {
  // The 7x7 stride-2 pad-3 convolution of test/correctness/kernels.ir, written differently.
  expect_same_values(R"(
kernel k(X: f32[1, 3, 23, 21], W: f32[5, 3, 7, 7]) -> Y: f32[1, 5, 12, 11] {
  Y = conv2d(X, W, stride=2, pad=3)
})",
                     R"(
kernel k(X: f32[1, 3, 23, 21], W: f32[5, 3, 7, 7]) -> Y: f32[1, 5, 12, 11] {
  P[n, c, h, w] = select(h >= 3 and h <= 25 and w >= 3 and w <= 23, X[n, c, h - 3, w - 3], 0.0) : f32[1, 3, 29, 27]
  Y[n, f, y, x] = sum(c, r, s) P[n, c, y * 2 + r, x * 2 + s] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dWithoutPaddingHasNoPadStage) {
  expect_same_text(R"(
kernel k(X: f32[1, 4, 8, 8], W: f32[2, 4, 3, 3]) -> Y: f32[1, 2, 6, 6] {
  Y = conv2d(X, W)
})",
                   R"(
kernel k(X: f32[1, 4, 8, 8], W: f32[2, 4, 3, 3]) -> Y: f32[1, 2, 6, 6] {
  Y[n, f, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dDilation) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 9, 9], W: f32[3, 2, 3, 3]) -> Y: f32[1, 3, 5, 5] {
  Y = conv2d(X, W, dilation=2)
})",
                   R"(
kernel k(X: f32[1, 2, 9, 9], W: f32[3, 2, 3, 3]) -> Y: f32[1, 3, 5, 5] {
  Y[n, f, y, x] = sum(c, r, s) X[n, c, y + r * 2, x + s * 2] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dGroups) {
  expect_same_text(R"(
kernel k(X: f32[1, 6, 6, 6], W: f32[4, 3, 3, 3]) -> Y: f32[1, 4, 4, 4] {
  Y = conv2d(X, W, groups=2)
})",
                   R"(
kernel k(X: f32[1, 6, 6, 6], W: f32[4, 3, 3, 3]) -> Y: f32[1, 4, 4, 4] {
  Y[n, f, y, x] = sum(c: 3, r, s) X[n, f / 2 * 3 + c, y + r, x + s] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dGroupsMatchOneConvolutionPerGroup) {
  expect_same_values(R"(
kernel k(X: f32[1, 6, 6, 6], W: f32[4, 3, 3, 3]) -> Y: f32[1, 4, 4, 4] {
  Y = conv2d(X, W, groups=2)
})",
                     R"(
kernel k(X: f32[1, 6, 6, 6], W: f32[4, 3, 3, 3]) -> Y: f32[1, 4, 4, 4] {
  Y[n, f, y, x] = sum(c: 3, r, s) select(f < 2, X[n, c, y + r, x + s], X[n, 3 + c, y + r, x + s]) * W[f, c, r, s]
})");
}

TEST(Layers, DepthwiseIsGroupsEqualChannels) {
  expect_same_text(R"(
kernel k(X: f32[1, 6, 10, 9], W: f32[6, 1, 3, 3]) -> Y: f32[1, 6, 10, 9] {
  Y = conv2d(X, W, groups=6, pad=1)
})",
                   R"(
kernel k(X: f32[1, 6, 10, 9], W: f32[6, 1, 3, 3]) -> Y: f32[1, 6, 10, 9] {
  Y_pad[n, c, h, w] = select(h >= 1 and h <= 10 and w >= 1 and w <= 9, X[n, c, h - 1, w - 1], 0.0) : f32[1, 6, 12, 11]
  Y[n, c, y, x] = sum(r, s) Y_pad[n, c, y + r, x + s] * W[c, 0, r, s]
})");
}

TEST(Layers, DepthwiseWithChannelMultiplier) {
  expect_same_text(R"(
kernel k(X: f32[1, 3, 5, 5], W: f32[6, 1, 3, 3]) -> Y: f32[1, 6, 3, 3] {
  Y = conv2d(X, W, groups=3)
})",
                   R"(
kernel k(X: f32[1, 3, 5, 5], W: f32[6, 1, 3, 3]) -> Y: f32[1, 6, 3, 3] {
  Y[n, f, y, x] = sum(r, s) X[n, f / 2, y + r, x + s] * W[f, 0, r, s]
})");
}

TEST(Layers, Conv2dPerAxisStrideDilationAndAsymmetricPad) {
  // Rows: 9 + 1 + 2 padded, 3 taps, stride 2 -> 5; columns: 8 + 0 + 1, 2 taps 2 apart -> 7.
  // Only the padded sides get a comparison.
  expect_same_text(R"(
kernel k(X: f32[1, 2, 9, 8], W: f32[3, 2, 3, 2]) -> Y: f32[1, 3, 5, 7] {
  Y = conv2d(X, W, stride=[2, 1], pad=[1, 0, 2, 1], dilation=[1, 2])
})",
                   R"(
kernel k(X: f32[1, 2, 9, 8], W: f32[3, 2, 3, 2]) -> Y: f32[1, 3, 5, 7] {
  Y_pad[n, c, h, w] = select(h >= 1 and h <= 9 and w <= 7, X[n, c, h - 1, w], 0.0) : f32[1, 2, 12, 9]
  Y[n, f, y, x] = sum(c, r, s) Y_pad[n, c, y * 2 + r, x + s * 2] * W[f, c, r, s]
})");
}

TEST(Layers, Conv2dPadOfTwoValuesIsRowsThenColumns) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 6, 5], W: f32[3, 2, 3, 3]) -> Y: f32[1, 3, 6, 3] {
  Y = conv2d(X, W, pad=[1, 0])
})",
                   R"(
kernel k(X: f32[1, 2, 6, 5], W: f32[3, 2, 3, 3]) -> Y: f32[1, 3, 6, 3] {
  Y = conv2d(X, W, pad=[1, 0, 1, 0])
})");
}

TEST(Layers, Conv2dScalarKeywordsEqualTheirPerAxisForms) {
  expect_same_text(R"(
kernel k(X: f32[1, 3, 13, 11], W: f32[8, 3, 3, 3]) -> Y: f32[1, 8, 6, 5] {
  Y = conv2d(X, W, stride=2, pad=1, dilation=2)
})",
                   R"(
kernel k(X: f32[1, 3, 13, 11], W: f32[8, 3, 3, 3]) -> Y: f32[1, 8, 6, 5] {
  Y = conv2d(X, W, stride=[2, 2], pad=[1, 1, 1, 1], dilation=[2, 2])
})");
}

// ---------------------------------------------------------------- matmul, dense, bias, relu

TEST(Layers, Matmul) {
  expect_same_text(R"(
kernel k(A: f32[37, 29], B: f32[29, 43]) -> C: f32[37, 43] {
  C = matmul(A, B)
})",
                   R"(
kernel k(A: f32[37, 29], B: f32[29, 43]) -> C: f32[37, 43] {
  C[i, j] = sum(k) A[i, k] * B[k, j]
})");
}

TEST(Layers, BatchedMatmul) {
  expect_same_text(R"(
kernel k(A: f32[3, 17, 13], B: f32[3, 13, 19]) -> C: f32[3, 17, 19] {
  C = matmul(A, B)
})",
                   R"(
kernel k(A: f32[3, 17, 13], B: f32[3, 13, 19]) -> C: f32[3, 17, 19] {
  C[b, i, j] = sum(k) A[b, i, k] * B[b, k, j]
})");
}

TEST(Layers, DenseBiasAddRelu) {
  expect_same_text(R"(
kernel k(X: f32[9, 33], W: f32[21, 33], b: f32[21]) -> Y: f32[9, 21] {
  acc = dense(X, W)
  z = bias_add(acc, b)
  Y = relu(z)
})",
                   R"(
kernel k(X: f32[9, 33], W: f32[21, 33], b: f32[21]) -> Y: f32[9, 21] {
  acc[i, j] = sum(k) X[i, k] * W[j, k]
  z[i, j] = acc[i, j] + b[j]
  Y[i, j] = max(z[i, j], 0.0)
})");
}

TEST(Layers, DenseBiasAddReluMatchesTheFusedEpilogue) {
  expect_same_values(R"(
kernel k(X: f32[9, 33], W: f32[21, 33], b: f32[21]) -> Y: f32[9, 21] {
  acc = dense(X, W)
  z = bias_add(acc, b)
  Y = relu(z)
})",
                     R"(
kernel k(X: f32[9, 33], W: f32[21, 33], b: f32[21]) -> Y: f32[9, 21] {
  acc[i, j] = sum(k) X[i, k] * W[j, k]
  Y[i, j] = max(acc[i, j] + b[j], 0.0)
})");
}

TEST(Layers, BiasAddOnChannelsOfNCHW) {
  expect_same_text(R"(
kernel k(X: f32[1, 4, 3, 3], b: f32[4], d: f32[3]) -> (Y: f32[1, 4, 3, 3], Z: f32[1, 4, 3, 3]) {
  Y = bias_add(X, b)
  Z = bias_add(X, d, axis=-1)
})",
                   R"(
kernel k(X: f32[1, 4, 3, 3], b: f32[4], d: f32[3]) -> (Y: f32[1, 4, 3, 3], Z: f32[1, 4, 3, 3]) {
  Y[n, c, h, w] = X[n, c, h, w] + b[c]
  Z[n, c, h, w] = X[n, c, h, w] + d[w]
})");
}

// ---------------------------------------------------------------- pooling

TEST(Layers, MaxPool) {
  expect_same_text(R"(
kernel k(X: f32[1, 3, 13, 11]) -> Y: f32[1, 3, 6, 5] {
  Y = maxpool2d(X, kernel=3, stride=2)
})",
                   R"(
kernel k(X: f32[1, 3, 13, 11]) -> Y: f32[1, 3, 6, 5] {
  Y[n, c, y, x] = max(r: 3, s: 3) X[n, c, y * 2 + r, x * 2 + s]
})");
}

TEST(Layers, MaxPoolPadsWithMinusInfinity) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 8, 8]) -> Y: f32[1, 2, 4, 4] {
  Y = maxpool2d(X, kernel=3, stride=2, pad=1)
})",
                   R"(
kernel k(X: f32[1, 2, 8, 8]) -> Y: f32[1, 2, 4, 4] {
  Y_pad[n, c, h, w] = select(h >= 1 and h <= 8 and w >= 1 and w <= 8, X[n, c, h - 1, w - 1], -inf) : f32[1, 2, 10, 10]
  Y[n, c, y, x] = max(r: 3, s: 3) Y_pad[n, c, y * 2 + r, x * 2 + s]
})");
}

TEST(Layers, AvgPoolStrideDefaultsToKernel) {
  expect_same_text(R"(
kernel k(X: f32[1, 3, 12, 10]) -> Y: f32[1, 3, 6, 5] {
  Y = avgpool2d(X, kernel=2)
})",
                   R"(
kernel k(X: f32[1, 3, 12, 10]) -> Y: f32[1, 3, 6, 5] {
  Y_sum[n, c, y, x] = sum(r: 2, s: 2) X[n, c, y * 2 + r, x * 2 + s] : f32[1, 3, 6, 5]
  Y[n, c, y, x] = Y_sum[n, c, y, x] / 4.0
})");
}

TEST(Layers, AvgPoolMatchesTheHandWrittenAverage) {
  expect_same_values(R"(
kernel k(X: f32[1, 3, 12, 10]) -> Y: f32[1, 3, 6, 5] {
  Y = avgpool2d(X, kernel=2)
})",
                     R"(
kernel k(X: f32[1, 3, 12, 10]) -> Y: f32[1, 3, 6, 5] {
  S[n, c, y, x] = sum(r: 2, s: 2) X[n, c, y * 2 + r, x * 2 + s] : f32[1, 3, 6, 5]
  Y[n, c, y, x] = S[n, c, y, x] * 0.25
})");
}

TEST(Layers, MaxPoolRectangularWindowAndPerAxisStride) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 7, 9]) -> Y: f32[1, 2, 3, 8] {
  Y = maxpool2d(X, kernel=[3, 2], stride=[2, 1])
})",
                   R"(
kernel k(X: f32[1, 2, 7, 9]) -> Y: f32[1, 2, 3, 8] {
  Y[n, c, y, x] = max(r: 3, s: 2) X[n, c, y * 2 + r, x + s]
})");
}

TEST(Layers, MaxPoolCeilModeAddsAWindowOverhangingTheEnd) {
  // floor((6 - 3) / 2) + 1 = 2 windows; ceil_mode: 3, the last reading rows 4, 5 and (past the
  // end, as -inf) 6.
  expect_same_text(R"(
kernel k(X: f32[1, 1, 6, 6]) -> Y: f32[1, 1, 3, 3] {
  Y = maxpool2d(X, kernel=3, stride=2, ceil_mode=1)
})",
                   R"(
kernel k(X: f32[1, 1, 6, 6]) -> Y: f32[1, 1, 3, 3] {
  Y_pad[n, c, h, w] = select(h <= 5 and w <= 5, X[n, c, h, w], -inf) : f32[1, 1, 7, 7]
  Y[n, c, y, x] = max(r: 3, s: 3) Y_pad[n, c, y * 2 + r, x * 2 + s]
})");
}

TEST(Layers, CeilModeDropsAWindowStartingInTheEndPadding) {
  // 5 rows padded by 1 on both sides, windows of 2 stride 2: ceil((7 - 2) / 2) + 1 = 4, but the
  // 4th would start at padded row 6, in the padding: 3 windows, as without ceil_mode.
  std::string both = R"(
kernel k(X: f32[1, 1, 5, 5]) -> Y: f32[1, 1, 3, 3] {
  Y = maxpool2d(X, kernel=2, stride=2, pad=1{})
})";
  auto with = [&](const char *extra) {
    std::string t = both;
    t.replace(t.find("{}"), 2, extra);
    return t;
  };
  expect_same_text(with(", ceil_mode=1"), with(""));
}

TEST(Layers, AvgPoolExcludingPaddingDividesByTheTapsInside) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 4, 4]) -> Y: f32[1, 2, 2, 2] {
  Y = avgpool2d(X, kernel=3, stride=2, pad=[1, 1, 0, 0], count_include_pad=0)
})",
                   R"(
kernel k(X: f32[1, 2, 4, 4]) -> Y: f32[1, 2, 2, 2] {
  Y_pad[n, c, h, w] = select(h >= 1 and w >= 1, X[n, c, h - 1, w - 1], 0.0) : f32[1, 2, 5, 5]
  Y_sum[n, c, y, x] = sum(r: 3, s: 3) Y_pad[n, c, y * 2 + r, x * 2 + s] : f32[1, 2, 2, 2]
  Y_cnt[y, x] = sum(r: 3, s: 3) select(y * 2 + r >= 1 and x * 2 + s >= 1, 1.0, 0.0) : f32[2, 2]
  Y[n, c, y, x] = Y_sum[n, c, y, x] / Y_cnt[y, x]
})");
}

TEST(Layers, AvgPoolIncludingPaddingDividesByTheWindow) {
  expect_same_text(R"(
kernel k(X: f32[1, 2, 4, 4]) -> Y: f32[1, 2, 2, 2] {
  Y = avgpool2d(X, kernel=3, stride=2, pad=[1, 1, 0, 0])
})",
                   R"(
kernel k(X: f32[1, 2, 4, 4]) -> Y: f32[1, 2, 2, 2] {
  Y_pad[n, c, h, w] = select(h >= 1 and w >= 1, X[n, c, h - 1, w - 1], 0.0) : f32[1, 2, 5, 5]
  Y_sum[n, c, y, x] = sum(r: 3, s: 3) Y_pad[n, c, y * 2 + r, x * 2 + s] : f32[1, 2, 2, 2]
  Y[n, c, y, x] = Y_sum[n, c, y, x] / 9.0
})");
}

/// ONNX MaxPool / AveragePool on an NCHW tensor, written the plain way: every tap of every
/// window checked against the input and the padding.
struct PoolRef {
  bool is_max;
  int64_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  bool ceil_mode, include_pad;

  int64_t out(int64_t in, int64_t k, int64_t s, int64_t lo, int64_t hi, int64_t d) const {
    double o = double(in + lo + hi - d * (k - 1) - 1) / double(s) + 1;
    int64_t n = static_cast<int64_t>(ceil_mode ? std::ceil(o) : std::floor(o));
    if (ceil_mode && (n - 1) * s >= in + lo) --n;  // a window starting in the end padding
    return n;
  }

  std::vector<double> run(const std::vector<float> &X, int64_t N, int64_t C, int64_t H, int64_t W, int64_t &OH,
                          int64_t &OW) const {
    OH = out(H, kh, sh, pt, pb, dh);
    OW = out(W, kw, sw, pl, pr, dw);
    std::vector<double> Y;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < OH; ++y)
          for (int64_t x = 0; x < OW; ++x) {
            double acc = is_max ? -INFINITY : 0, count = 0;
            for (int64_t r = 0; r < kh; ++r)
              for (int64_t s = 0; s < kw; ++s) {
                int64_t h = y * sh - pt + r * dh, w = x * sw - pl + s * dw;
                bool inside = h >= 0 && h < H && w >= 0 && w < W;
                bool in_padded = h >= -pt && h < H + pb && w >= -pl && w < W + pr;
                if (inside) acc = is_max ? std::max(acc, double(X[((n * C + c) * H + h) * W + w])) : acc + X[((n * C + c) * H + h) * W + w];
                if (include_pad ? in_padded : inside) ++count;
              }
            Y.push_back(is_max ? acc : acc / count);
          }
    return Y;
  }
};

/// The layer `call` on X [1, 2, H, W] computes what PoolRef does.
void expect_pool_matches_onnx(const std::string &call, const PoolRef &ref, int64_t H, int64_t W) {
  std::vector<float> X(size_t(2 * H * W));
  for (size_t i = 0; i < X.size(); ++i) X[i] = float(std::sin(double(i) * 1.7) * 3);
  int64_t OH, OW;
  std::vector<double> want = ref.run(X, 1, 2, H, W, OH, OW);
  std::string text = "kernel k(X: f32[1, 2, " + std::to_string(H) + ", " + std::to_string(W) + "]) -> Y: f32[1, 2, " +
                     std::to_string(OH) + ", " + std::to_string(OW) + "] {\n  Y = " + call + "\n}\n";
  Kernel k = parse_one(text);
  auto got = interpret(k, {X});
  ASSERT_EQ(got.at(0).size(), want.size()) << text;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[0][i], want[i], 1e-9) << text << "element " << i;
}

TEST(Layers, AvgPoolFollowsOnnxWithAndWithoutPaddingInTheCount) {
  for (bool include : {false, true})
    for (bool ceil : {false, true}) {
      std::string call = std::string("avgpool2d(X, kernel=[3, 2], stride=[2, 3], pad=[1, 0, 1, 1], count_include_pad=") +
                         (include ? "1" : "0") + ", ceil_mode=" + (ceil ? "1" : "0") + ")";
      expect_pool_matches_onnx(call, {false, 3, 2, 2, 3, 1, 0, 1, 1, 1, 1, ceil, include}, 8, 9);
    }
}

TEST(Layers, MaxPoolFollowsOnnxWithDilationAndCeilMode) {
  for (bool ceil : {false, true}) {
    std::string call = std::string("maxpool2d(X, kernel=2, stride=[2, 3], pad=[1, 1, 0, 1], dilation=[2, 1], ceil_mode=") +
                       (ceil ? "1" : "0") + ")";
    expect_pool_matches_onnx(call, {true, 2, 2, 2, 3, 1, 1, 0, 1, 2, 1, ceil, false}, 8, 10);
  }
}

// ---------------------------------------------------------------- softmax, layernorm

TEST(Layers, SoftmaxOverTheLastAxis) {
  expect_same_text(R"(
kernel k(X: f32[7, 45]) -> Y: f32[7, 45] {
  Y = softmax(X)
})",
                   R"(
kernel k(X: f32[7, 45]) -> Y: f32[7, 45] {
  Y_max[i] = max(j) X[i, j]
  Y_exp[i, j] = exp(X[i, j] - Y_max[i])
  Y_sum[i] = sum(j) Y_exp[i, j]
  Y[i, j] = Y_exp[i, j] / Y_sum[i]
})");
}

TEST(Layers, SoftmaxOverAnotherAxis) {
  expect_same_text(R"(
kernel k(X: f32[7, 5]) -> Y: f32[7, 5] {
  Y = softmax(X, axis=0)
})",
                   R"(
kernel k(X: f32[7, 5]) -> Y: f32[7, 5] {
  Y_max[j] = max(i) X[i, j]
  Y_exp[i, j] = exp(X[i, j] - Y_max[j])
  Y_sum[j] = sum(i) Y_exp[i, j]
  Y[i, j] = Y_exp[i, j] / Y_sum[j]
})");
}

TEST(Layers, SoftmaxOfAVectorReducesToOneElement) {
  expect_same_text(R"(
kernel k(X: f32[9]) -> Y: f32[9] {
  Y = softmax(X)
})",
                   R"(
kernel k(X: f32[9]) -> Y: f32[9] {
  Y_max[o] = max(i: 9) X[i] : f32[1]
  Y_exp[i] = exp(X[i] - Y_max[0])
  Y_sum[o] = sum(i: 9) Y_exp[i] : f32[1]
  Y[i] = Y_exp[i] / Y_sum[0]
})");
}

TEST(Layers, LayerNorm) {
  expect_same_text(R"(
kernel k(X: f32[6, 37], g: f32[37], b: f32[37]) -> Y: f32[6, 37] {
  Y = layernorm(X, g, b, eps=1e-5)
})",
                   R"(
kernel k(X: f32[6, 37], g: f32[37], b: f32[37]) -> Y: f32[6, 37] {
  Y_mean[i] = sum(j) X[i, j] / 37.0
  Y_diff[i, j] = X[i, j] - Y_mean[i]
  Y_var[i] = sum(j) Y_diff[i, j] * Y_diff[i, j] / 37.0
  Y[i, j] = Y_diff[i, j] * rsqrt(Y_var[i] + 0.00001) * g[j] + b[j]
})");
}

TEST(Layers, LayerNormEpsDefaultsTo1e5) {
  expect_same_text(R"(
kernel k(X: f32[6, 37], g: f32[37], b: f32[37]) -> Y: f32[6, 37] {
  Y = layernorm(X, g, b)
})",
                   R"(
kernel k(X: f32[6, 37], g: f32[37], b: f32[37]) -> Y: f32[6, 37] {
  Y = layernorm(X, g, b, eps=0.00001)
})");
}

// ---------------------------------------------------------------- in a kernel

TEST(Layers, IndexVariablesAvoidTensorNames) {
  // Inputs named n and c, and a later stage named h: the variables become n_, c_, h_.
  Kernel k = parse_one(R"(
kernel k(n: f32[1, 2, 4, 4], c: f32[2]) -> Y: f32[1, 2, 4, 4] {
  t = bias_add(n, c)
  h = relu(t)
  Y[i, j, p, q] = h[i, j, p, q]
})");
  EXPECT_EQ(to_string(k.stages[0].body), "n[n_, c_, h_, w] + c[c_]");
}

TEST(Layers, HandWrittenStagesReadLayersAndAnnotatedStages) {
  Kernel k = parse_one(R"(
kernel k(X: f32[4, 8]) -> Y: f32[4, 8] {
  t[i, j] = X[i, j] * 2.0 : f32[4, 8]
  s = softmax(t)
  Y[i, j] = s[i, j] + s_max[i]
})");
  EXPECT_EQ(k.stages.size(), 6u);
  EXPECT_EQ(k.stages[4].name(), "s");
  EXPECT_EQ(k.stages[4].output->shape, (std::vector<int64_t>{4, 8}));
}

TEST(Layers, SchedulesNameTheExpandedStages) {
  Module m = parse_module("test.ir", R"(
kernel k(X: f32[1, 3, 8, 8], W: f32[4, 3, 3, 3]) -> Y: f32[1, 4, 8, 8] {
  Y = conv2d(X, W, pad=1)
}
schedule k {
  compute_at Y_pad Y.y
}
)");
  ASSERT_NE(m.find_kernel("k")->find_stage("Y_pad"), nullptr);
  ASSERT_NE(m.find_schedule("k"), nullptr);
}

TEST(Layers, ResultShapeIsComputedForIntermediates) {
  Kernel k = parse_one(R"(
kernel k(X: f32[2, 3, 9, 9], W: f32[5, 3, 3, 3]) -> Y: f32[2, 5, 2, 2] {
  c = conv2d(X, W, stride=2)
  Y = maxpool2d(c, kernel=2)
})");
  EXPECT_EQ(k.find_tensor("c")->shape, (std::vector<int64_t>{2, 5, 4, 4}));
}

}  // namespace
}  // namespace kcc
