// test/unit/test_layers.cpp - layer shorthands (ir/layers.h): each expansion is the kernel a
// user would write by hand. Compared as printed text (same stages, names, ranges and bodies)
// and, against independently written kernels, as interpreter outputs on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

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
