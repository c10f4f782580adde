// test/unit/test_parser.cpp - model.ir front end: parsing, checking, printing, schedules.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "ir/lexer.h"
#include "ir/parser.h"
#include "ir/workload.h"

namespace kcc {
namespace {

// ---------------------------------------------------------------- kernels used below

const char *kDenseRelu = R"(
# a dense layer with a fused epilogue
kernel dense_relu(X: f32[64, 512], W: f32[256, 512], b: f32[256]) -> Y: f32[64, 256] {
  acc[i, j] = sum(k) X[i, k] * W[j, k]          # k's range inferred from the accesses
  Y[i, j]   = max(acc[i, j] + b[j], 0.0)
}
)";

const char *kConv3x3 = R"(
kernel conv3x3(X: f32[1, 64, 56, 56], W: f32[64, 64, 3, 3]) -> Y: f32[1, 64, 56, 56] {
  P[n, c, h, w] = select(h >= 1 and h <= 56 and w >= 1 and w <= 56, X[n, c, h - 1, w - 1], 0.0) : f32[1, 64, 58, 58]
  Y[n, f, y, x] = sum(c, r, s) P[n, c, y + r, x + s] * W[f, c, r, s]
}
)";

const char *kSoftmax = R"(
kernel softmax(X: f32[8, 100]) -> Y: f32[8, 100] {
  m[i] = max(j) X[i, j]                 # reduction max (followed by an expression) vs max(a, b) (binary)
  e[i, j] = exp(X[i, j] - m[i])
  s[i] = sum(j) e[i, j]
  Y[i, j] = e[i, j] / s[i]
}
)";

const char *kTwoOut = R"(
kernel two_out(A: f32[4]) -> (B: f32[4], C: f32[2]) {      # several outputs in parentheses
  B[i] = A[i] * 2
  C[i] = sum(k: 2) A[i * 2 + k]                            # explicit reduction range k in [0, 2)
}
)";

const char *kBatchedMatmul = R"(
kernel bmm(A: f32[8, 64, 32], B: f32[8, 32, 48]) -> C: f32[8, 64, 48] {
  C[b, i, j] = sum(k) A[b, i, k] * B[b, k, j]
}
)";

const char *kConvStride2 = R"(
# ResNet stem: 7x7, stride 2, padding 3
kernel conv7x7s2(X: f32[1, 3, 224, 224], W: f32[64, 3, 7, 7]) -> Y: f32[1, 64, 112, 112] {
  P[n, c, h, w] = select(h >= 3 and h < 227 and w >= 3 and w < 227, X[n, c, h - 3, w - 3], 0.0) : f32[1, 3, 230, 230]
  Y[n, f, y, x] = sum(c, r, s) P[n, c, y * 2 + r, x * 2 + s] * W[f, c, r, s]
}
)";

const char *kDepthwise = R"(
kernel depthwise(X: f32[1, 32, 56, 56], W: f32[32, 3, 3]) -> Y: f32[1, 32, 54, 54] {
  Y[n, c, y, x] = sum(r, s) X[n, c, y + r, x + s] * W[c, r, s]
}
)";

const char *kMaxPool = R"(
kernel maxpool(X: f32[1, 16, 32, 32]) -> Y: f32[1, 16, 16, 16] {
  Y[n, c, y, x] = max(r: 2, s: 2) X[n, c, y * 2 + r, x * 2 + s]
}
)";

const char *kAvgPool = R"(
kernel avgpool(X: f32[1, 16, 33, 33]) -> Y: f32[1, 16, 11, 11] {
  S[n, c, y, x] = sum(r: 3, s: 3) X[n, c, y * 3 + r, x * 3 + s] : f32[1, 16, 11, 11]
  Y[n, c, y, x] = S[n, c, y, x] / 9
}
)";

const char *kLayerNorm = R"(
kernel layernorm(X: f32[16, 256], g: f32[256], b: f32[256]) -> Y: f32[16, 256] {
  mean[i] = sum(j) X[i, j] / 256
  d[i, j] = X[i, j] - mean[i]
  var[i] = sum(j) d[i, j] * d[i, j] / 256
  Y[i, j] = d[i, j] * rsqrt(var[i] + 1e-5) * g[j] + b[j]
}
)";

const char *kTranspose = R"(
kernel transpose(X: f32[32, 64]) -> Y: f32[64, 32] {
  Y[j, i] = X[i, j]
}
)";

const char *kAllExamples[] = {kDenseRelu, kConv3x3,  kSoftmax, kTwoOut,   kBatchedMatmul, kConvStride2,
                              kDepthwise, kMaxPool, kAvgPool, kLayerNorm, kTranspose};

Kernel parse_one(const std::string &text) {
  Module m = parse_module("test.ir", text);
  EXPECT_EQ(m.kernels.size(), 1u);
  return m.kernels.at(0);
}

void expect_same_tensor(const TensorDecl &a, const TensorDecl &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.elem, b.elem);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.role, b.role);
}

/// Same names, shapes and structure (bodies compared as text: Vars differ by identity).
void expect_same_kernel(const Kernel &a, const Kernel &b) {
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) expect_same_tensor(*a.inputs[i], *b.inputs[i]);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) expect_same_tensor(*a.outputs[i], *b.outputs[i]);
  ASSERT_EQ(a.stages.size(), b.stages.size());
  for (size_t i = 0; i < a.stages.size(); ++i) {
    const Stage &x = a.stages[i], &y = b.stages[i];
    expect_same_tensor(*x.output, *y.output);
    EXPECT_EQ(x.reduce, y.reduce);
    ASSERT_EQ(x.axes.size(), y.axes.size());
    for (size_t j = 0; j < x.axes.size(); ++j) {
      EXPECT_EQ(x.axes[j].var->name, y.axes[j].var->name);
      EXPECT_EQ(x.axes[j].extent, y.axes[j].extent);
    }
    ASSERT_EQ(x.raxes.size(), y.raxes.size());
    for (size_t j = 0; j < x.raxes.size(); ++j) {
      EXPECT_EQ(x.raxes[j].var->name, y.raxes[j].var->name);
      EXPECT_EQ(x.raxes[j].extent, y.raxes[j].extent);
    }
    EXPECT_EQ(x.body.type(), y.body.type());
    EXPECT_EQ(to_string(x.body), to_string(y.body));
  }
}

void expect_round_trip(const char *text) {
  Module m1 = parse_module("test.ir", text);
  std::string printed = to_string(m1);
  Module m2 = parse_module("printed.ir", printed);
  ASSERT_EQ(m1.kernels.size(), m2.kernels.size()) << printed;
  for (size_t i = 0; i < m1.kernels.size(); ++i) expect_same_kernel(m1.kernels[i], m2.kernels[i]);
  EXPECT_EQ(to_string(m2), printed);
}

// ---------------------------------------------------------------- round trips

TEST(ParserRoundTrip, DenseRelu) { expect_round_trip(kDenseRelu); }
TEST(ParserRoundTrip, Conv3x3WithPaddingStage) { expect_round_trip(kConv3x3); }
TEST(ParserRoundTrip, Softmax) { expect_round_trip(kSoftmax); }
TEST(ParserRoundTrip, TwoOutputs) { expect_round_trip(kTwoOut); }
TEST(ParserRoundTrip, BatchedMatmul) { expect_round_trip(kBatchedMatmul); }
TEST(ParserRoundTrip, Conv7x7Stride2) { expect_round_trip(kConvStride2); }
TEST(ParserRoundTrip, DepthwiseConv) { expect_round_trip(kDepthwise); }
TEST(ParserRoundTrip, MaxPool) { expect_round_trip(kMaxPool); }
TEST(ParserRoundTrip, AvgPool) { expect_round_trip(kAvgPool); }
TEST(ParserRoundTrip, LayerNorm) { expect_round_trip(kLayerNorm); }
TEST(ParserRoundTrip, Transpose) { expect_round_trip(kTranspose); }

TEST(ParserRoundTrip, RankZeroTensors) {
  expect_round_trip(R"(
kernel center(X: f32[5, 7], s: f32[]) -> (M: f32[], Y: f32[5, 7]) {
  T[] = sum(i, j) X[i, j] : f32[]
  M[] = T[] / 35.0
  Y[i, j] = (X[i, j] - M[]) * s[]
}
)");
}

TEST(ParserRoundTrip, AllKernelsInOneModule) {
  std::string all;
  for (const char *k : kAllExamples) all += k;
  Module m = parse_module("all.ir", all);
  EXPECT_EQ(m.kernels.size(), std::size(kAllExamples));
  expect_round_trip(all.c_str());
}

TEST(ParserRoundTrip, PrintedDenseReluText) {
  EXPECT_EQ(to_string(parse_one(kDenseRelu)),
            "kernel dense_relu(X: f32[64, 512], W: f32[256, 512], b: f32[256]) -> Y: f32[64, 256] {\n"
            "  acc[i, j] = sum(k: 512) X[i, k] * W[j, k] : f32[64, 256]\n"
            "  Y[i, j] = max(acc[i, j] + b[j], 0.0)\n"
            "}\n");
}

TEST(ParserRoundTrip, NotBindsLooserThanComparison) {
  const char *text = R"(
kernel k(A: f32[4], B: f32[4]) -> Y: f32[4] {
  Y[i] = select((not A[i] > 0) == (B[i] < 1 or not i == 2), A[i], -B[i])
}
)";
  expect_round_trip(text);
}

TEST(ParserRoundTrip, NegativeLiteralsAndUnaryMinus) {
  const char *text = R"(
kernel k(A: f32[8]) -> Y: f32[8] {
  Y[i] = -A[i] * -2.5 - -(-3) + -(A[i] + 1) - -inf
}
)";
  expect_round_trip(text);
}

TEST(ParserRoundTrip, ReductionMaxOfNegatedBody) {
  const char *text = R"(
kernel k(A: f32[8, 4]) -> Y: f32[8] {
  Y[i] = max(j) (-A[i, j])
}
)";
  expect_round_trip(text);
  EXPECT_NE(to_string(parse_one(text)).find("max(j: 4) (-A[i, j])"), std::string::npos);
}

TEST(ParserRoundTrip, CastsAndIntegerTensors) {
  const char *text = R"(
kernel k(A: i32[8], H: f16[8]) -> (Y: f32[8], Z: i32[8], W: f16[8]) {
  Y[i] = f32(A[i]) + f32(i) * 0.5
  Z[i] = A[i] * 3 + i32(i % 4)
  W[i] = H[i] * 2 + f16(Y[i])
}
)";
  expect_round_trip(text);
}

// A conversion of literal-only arithmetic names the operand's type when printed: read back,
// `f32(16777217 + 1)` would add floats (16777216.0) and `i32(2.5)` is an error.
TEST(ParserRoundTrip, ConversionOfLiteralArithmeticKeepsItsType) {
  const char *text = R"(
kernel k(A: f32[8], B: i32[8]) -> (Y: f32[8], Z: i32[8]) {
  Y[i] = A[i] + f32(i64(16777217) + 1)
  Z[i] = B[i] + i32(f32(2.5) * 2)
}
)";
  expect_round_trip(text);
  std::string printed = to_string(parse_module("test.ir", text));
  EXPECT_NE(printed.find("f32(i64(16777217 + 1))"), std::string::npos) << printed;
  EXPECT_NE(printed.find("i32(f32(2.5 * 2.0))"), std::string::npos) << printed;
}

// ---------------------------------------------------------------- parsing and typing

TEST(Parser, ReductionMaxVersusBinaryMax) {
  Kernel k = parse_one(kSoftmax);
  EXPECT_EQ(k.stages[0].reduce, ReduceOp::Max);
  Kernel d = parse_one(kDenseRelu);
  EXPECT_EQ(d.stages[1].reduce, ReduceOp::None);
  ASSERT_TRUE(d.stages[1].body.as<Binary>());
  EXPECT_EQ(d.stages[1].body.as<Binary>()->op, BinOp::Max);
}

TEST(Parser, IntegerLiteralInFloatContextIsFloat) {
  Kernel k = parse_one(kTwoOut);
  auto *mul = k.stages[0].body.as<Binary>();
  ASSERT_TRUE(mul);
  double v = 0;
  EXPECT_TRUE(is_const_float(mul->b, &v));
  EXPECT_EQ(v, 2.0);
  EXPECT_EQ(mul->b.type(), Type::f32());
}

TEST(Parser, IndexArithmeticIsI64) {
  Kernel k = parse_one(kTwoOut);
  auto *acc = k.stages[1].body.as<Access>();
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->indices[0].type(), Type::i64());
  EXPECT_EQ(to_string(acc->indices[0]), "i * 2 + k");
}

TEST(Parser, PrecedenceMulOverAdd) {
  Kernel k = parse_one("kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = A[i] + A[i] * 2 - 1 }");
  EXPECT_EQ(to_string(k.stages[0].body), "A[i] + A[i] * 2.0 - 1.0");
  auto *sub = k.stages[0].body.as<Binary>();
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->op, BinOp::Sub);
}

TEST(Parser, ParenthesesOverridePrecedence) {
  Kernel k = parse_one("kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = (A[i] + 1) * 2 }");
  EXPECT_EQ(to_string(k.stages[0].body), "(A[i] + 1.0) * 2.0");
}

TEST(Parser, SemicolonsSeparateStatements) {
  Kernel k = parse_one("kernel k(A: f32[4]) -> Y: f32[4] { T[i] = A[i] * 2; Y[i] = T[i] + 1 }");
  EXPECT_EQ(k.stages.size(), 2u);
}

TEST(Parser, ArgumentListsMaySpanLines) {
  Kernel k = parse_one("kernel k(A: f32[4],\n         B: f32[4])\n  -> Y: f32[4] {\n  Y[i] = max(A[i],\n B[i])\n}\n");
  EXPECT_EQ(k.inputs.size(), 2u);
}

TEST(Parser, MathFunctionsAndCasts) {
  Kernel k = parse_one(
      "kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = pow(abs(A[i]), 2) + sigmoid(A[i]) * erf(f32(i)) + floor(1) }");
  EXPECT_EQ(to_string(k.stages[0].body), "pow(abs(A[i]), 2.0) + sigmoid(A[i]) * erf(f32(i)) + floor(1.0)");
}

TEST(Parser, TensorsHaveRolesAndLocations) {
  Kernel k = parse_one(kDenseRelu);
  EXPECT_EQ(k.inputs[0]->role, TensorRole::Input);
  EXPECT_EQ(k.outputs[0]->role, TensorRole::Output);
  EXPECT_EQ(k.stages[0].output->role, TensorRole::Intermediate);
  EXPECT_EQ(k.stages[1].output, k.outputs[0]);
  EXPECT_EQ(k.stages[0].loc.line, 4);
  EXPECT_EQ(k.stages[0].loc.col, 3);
  EXPECT_EQ(k.find_tensor("acc"), k.stages[0].output);
}

TEST(Parser, RankZeroTensorHasNoAxesAndOneElement) {
  Module m = parse_module("test.ir", R"(
kernel total(X: f32[3, 4]) -> M: f32[] {
  M[] = sum(i, j) X[i, j]
})");
  const Kernel &k = m.kernels.at(0);
  EXPECT_TRUE(k.outputs.at(0)->shape.empty());
  EXPECT_EQ(k.outputs[0]->num_elements(), 1);
  EXPECT_TRUE(k.stages.at(0).axes.empty());
  EXPECT_EQ(k.stages[0].raxes.size(), 2u);
  EXPECT_EQ(to_string(k), "kernel total(X: f32[3, 4]) -> M: f32[] {\n  M[] = sum(i: 3, j: 4) X[i, j]\n}\n");
}

TEST(Parser, ReadsFromFile) {
  EXPECT_THROW(parse_module_file("/nonexistent/model.ir"), UserError);
}

// ---------------------------------------------------------------- range inference

TEST(RangeInference, ReductionRangeFromAccesses) {
  Kernel k = parse_one(kDenseRelu);
  ASSERT_EQ(k.stages[0].raxes.size(), 1u);
  EXPECT_EQ(k.stages[0].raxes[0].var->name, "k");
  EXPECT_EQ(k.stages[0].raxes[0].extent, 512);
}

TEST(RangeInference, IntermediateShapeFromAccesses) {
  Kernel k = parse_one(kDenseRelu);
  EXPECT_EQ(k.stages[0].output->shape, (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(k.stages[0].axes[0].extent, 64);
  EXPECT_EQ(k.stages[0].axes[1].extent, 256);
}

TEST(RangeInference, ConvolutionReductionAxes) {
  Kernel k = parse_one(kConv3x3);
  const Stage &y = k.stages[1];
  ASSERT_EQ(y.raxes.size(), 3u);
  EXPECT_EQ(y.raxes[0].extent, 64);
  EXPECT_EQ(y.raxes[1].extent, 3);
  EXPECT_EQ(y.raxes[2].extent, 3);
}

TEST(RangeInference, AnnotationGivesShape) {
  Kernel k = parse_one(kConv3x3);
  EXPECT_EQ(k.stages[0].output->shape, (std::vector<int64_t>{1, 64, 58, 58}));
  EXPECT_EQ(k.stages[0].output->role, TensorRole::Intermediate);
}

TEST(RangeInference, ExplicitReductionRange) {
  Kernel k = parse_one(kTwoOut);
  EXPECT_EQ(k.stages[1].raxes[0].extent, 2);
  EXPECT_EQ(k.stages[1].axes[0].extent, 2);
}

TEST(RangeInference, SoftmaxIntermediates) {
  Kernel k = parse_one(kSoftmax);
  EXPECT_EQ(k.stages[0].output->shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(k.stages[0].raxes[0].extent, 100);
  EXPECT_EQ(k.stages[1].output->shape, (std::vector<int64_t>{8, 100}));
}

TEST(RangeInference, SelectConditionNarrowsTheChosenArm) {
  // Without the condition h - 1 would range over [-1, 56].
  EXPECT_NO_THROW(parse_one(kConv3x3));
  EXPECT_THROW(parse_one(R"(
kernel k(X: f32[4]) -> Y: f32[6] {
  Y[h] = select(h >= 1, X[h - 1], 0.0)
}
)"),
               UserError);
}

TEST(RangeInference, NonAffineSubscriptsAreUnchecked) {
  EXPECT_NO_THROW(parse_one("kernel k(X: f32[16]) -> Y: f32[4, 4] { Y[i, j] = X[i * j] }"));
}

TEST(RangeInference, DivisionAndModuloSubscripts) {
  EXPECT_NO_THROW(parse_one("kernel k(X: f32[4, 8]) -> Y: f32[32] { Y[i] = X[i / 8, i % 8] }"));
}

// ---------------------------------------------------------------- models

const char *kTinyModel = R"(
kernel conv_relu(X: f32[1, 3, 8, 8], W: f32[4, 3, 3, 3], b: f32[4]) -> Y: f32[1, 4, 6, 6] {
  C = conv2d(X, W)
  B = bias_add(C, b)
  Y = relu(B)
}
kernel head(X: f32[1, 4, 6, 6], W: f32[10, 144]) -> (Y: f32[1, 10], M: f32[]) {
  Y[i, j] = sum(k: 144) X[0, k / 36, k / 6 % 6, k % 6] * W[j, k] : f32[1, 10]
  M[] = max(i, j) Y[i, j]
}
model tiny(x: f32[1, 3, 8, 8]) -> (y: f32[1, 10], m: f32[]) {
  weights "tiny.weights"
  w1: f32[4, 3, 3, 3] = weight at 0
  b1: f32[4] = weight at 448
  w2: f32[10, 144] = weight at 512
  t1 = conv_relu(x, w1, b1)
  y, m = head(t1, w2)
}
)";

TEST(Model, ParsesCallsWeightsAndTypes) {
  Module m = parse_module("test.ir", kTinyModel);
  ASSERT_EQ(m.models.size(), 1u);
  const ModelDecl &d = m.models[0];
  EXPECT_EQ(d.name, "tiny");
  EXPECT_EQ(d.weights_file, "tiny.weights");
  ASSERT_EQ(d.weights.size(), 3u);
  EXPECT_EQ(d.weights[1].tensor.name, "b1");
  EXPECT_EQ(d.weights[1].offset, 448);
  EXPECT_EQ(d.weights[2].bytes(), 10 * 144 * 4);
  ASSERT_EQ(d.calls.size(), 2u);
  EXPECT_EQ(d.calls[1].kernel, "head");
  EXPECT_EQ(d.calls[1].args, (std::vector<std::string>{"t1", "w2"}));
  EXPECT_EQ(d.calls[1].results, (std::vector<std::string>{"y", "m"}));
  ASSERT_EQ(d.values.size(), 1u);  // t1; y and m are outputs
  EXPECT_EQ(d.find_tensor("t1")->shape, (std::vector<int64_t>{1, 4, 6, 6}));
  EXPECT_TRUE(d.find_tensor("m")->shape.empty());
  EXPECT_EQ(d.find_tensor("t1")->loc.line, 16);
}

// The inputs every call passes a model weight are the kernel's weight inputs (timed cold by the
// tuner), and they are part of its workload key; kernels no model gives a weight keep their key.
TEST(Model, MarksTheInputsItsCallsPassWeightsAndKeysThem) {
  Module m = parse_module("test.ir", kTinyModel);
  EXPECT_EQ(m.find_kernel("conv_relu")->weight_inputs, (std::vector<int>{1, 2}));
  EXPECT_EQ(m.find_kernel("head")->weight_inputs, (std::vector<int>{1}));
  const std::string kernels_only = std::string(kTinyModel).substr(0, std::string(kTinyModel).find("model tiny"));
  Module alone = parse_module("alone.ir", kernels_only);
  EXPECT_TRUE(alone.find_kernel("conv_relu")->weight_inputs.empty());
  EXPECT_NE(workload_key(*m.find_kernel("conv_relu")), workload_key(*alone.find_kernel("conv_relu")));
  EXPECT_NE(workload_text(*m.find_kernel("head")).find("\nweights t1\n"), std::string::npos)
      << workload_text(*m.find_kernel("head"));

  // A kernel one call gives a weight and another an activation: not a weight input.
  Module mixed = parse_module("mixed.ir", R"(
kernel scale(X: f32[4], S: f32[4]) -> Y: f32[4] {
  Y[i] = X[i] * S[i]
}
model twice(a: f32[4]) -> c: f32[4] {
  weights "twice.weights"
  s: f32[4] = weight at 0
  b = scale(a, s)
  c = scale(b, b)
}
)");
  EXPECT_TRUE(mixed.find_kernel("scale")->weight_inputs.empty());
  EXPECT_EQ(workload_key(*mixed.find_kernel("scale")),
            workload_key(*parse_module("k.ir", "kernel scale(X: f32[4], S: f32[4]) -> Y: f32[4] {\n  Y[i] = X[i] * S[i]\n}\n")
                              .find_kernel("scale")));
}

TEST(Model, PrintsBackToTheSameText) {
  std::string printed = to_string(parse_module("test.ir", kTinyModel));
  EXPECT_NE(printed.find(R"(model tiny(x: f32[1, 3, 8, 8]) -> (y: f32[1, 10], m: f32[]) {
  weights "tiny.weights"
  w1: f32[4, 3, 3, 3] = weight at 0
  b1: f32[4] = weight at 448
  w2: f32[10, 144] = weight at 512
  t1 = conv_relu(x, w1, b1)
  y, m = head(t1, w2)
}
)"),
            std::string::npos)
      << printed;
  EXPECT_EQ(to_string(parse_module("printed.ir", printed)), printed);
}

TEST(Model, MayPrecedeTheKernelsItCallsAndNeedsNoWeights) {
  Module m = parse_module("test.ir", R"(
model twice(a: f32[4]) -> c: f32[4] {
  b = double(a)
  c = double(b)
}
kernel double(X: f32[4]) -> Y: f32[4] {
  Y[i] = X[i] * 2.0
}
)");
  ASSERT_EQ(m.models.size(), 1u);
  EXPECT_TRUE(m.models[0].weights_file.empty());
  std::string printed = to_string(m);
  EXPECT_EQ(to_string(parse_module("printed.ir", printed)), printed);
}

TEST(Model, ModelIsNotAReservedWord) {
  Module m = parse_module("test.ir", R"(
kernel k(model: f32[4]) -> weights: f32[4] {
  weights[i] = model[i] + 1.0
}
)");
  EXPECT_EQ(m.kernels.at(0).inputs.at(0)->name, "model");
}

// ---------------------------------------------------------------- schedules

const char *kScheduleText =
    "schedule dense_relu {\n"
    "  split Y.i [8] -> i0 i1\n"
    "  split Y.j [4, 8] -> j0 j1 j2\n"
    "  tile acc.i acc.j [8, 32] -> i0 j0 i1 j1\n"
    "  reorder Y i0 j0 i1 j1 j2\n"
    "  fuse Y i0 j0 -> f\n"
    "  parallel Y.f\n"
    "  vectorize Y.j2\n"
    "  unroll Y.i1\n"
    "  unroll_limit Y 16\n"
    "  bind Y.f block.x\n"
    "  compute_at acc Y.j0\n"
    "  compute_inline acc\n"
    "  compute_root acc\n"
    "  cache_read W shared at acc.k -> W_sh\n"
    "  cache_write acc local at j1\n"
    "  cache_write acc local at acc.j1\n"
    "  rfactor acc.k -> acc_rf\n"
    "  storage_align acc.i 16 1\n"
    "  reorder_storage W_sh k j\n"
    "  prefetch W at acc.k 2\n"
    "}\n";

TEST(Schedule, ExactRoundTrip) {
  std::vector<Schedule> s = parse_schedules("s.txt", kScheduleText);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(to_string(s[0]), kScheduleText);
  std::vector<Schedule> again = parse_schedules("s2.txt", to_string(s[0]));
  EXPECT_EQ(to_string(again.at(0)), kScheduleText);
}

TEST(Schedule, AlignedHandWrittenTextNormalizes) {
  const char *text = R"(
schedule dense_relu {
  split       Y.i  [8]       -> i0 i1
  split       Y.j  [32]      -> j0 j1
  reorder     Y    i0 j0 i1 j1
  compute_at  acc  Y.j0        # each 8x32 tile of acc is computed just before the epilogue
  vectorize   Y.j1
  parallel    Y.i0
}
)";
  std::vector<Schedule> s = parse_schedules("s.txt", text);
  EXPECT_EQ(to_string(s.at(0)),
            "schedule dense_relu {\n  split Y.i [8] -> i0 i1\n  split Y.j [32] -> j0 j1\n  reorder Y i0 j0 i1 j1\n"
            "  compute_at acc Y.j0\n  vectorize Y.j1\n  parallel Y.i0\n}\n");
}

TEST(Schedule, TypedSteps) {
  std::vector<Schedule> s = parse_schedules("s.txt", kScheduleText);
  const auto &steps = s.at(0).steps;
  auto *split = std::get_if<SplitStep>(&steps[1].kind);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->loop.stage, "Y");
  EXPECT_EQ(split->loop.loop, "j");
  EXPECT_EQ(split->factors, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(split->results, (std::vector<std::string>{"j0", "j1", "j2"}));
  auto *bind = std::get_if<BindStep>(&steps[9].kind);
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind->axis, GpuAxis::BlockX);
  EXPECT_EQ(primitive_name(steps[6]), "vectorize");
  EXPECT_EQ(primitive_name(steps[12]), "compute_root");
  EXPECT_EQ(steps[0].loc.line, 2);
  EXPECT_EQ(steps[0].loc.col, 3);
  auto *prefetch = std::get_if<PrefetchStep>(&steps.back().kind);
  ASSERT_TRUE(prefetch);
  EXPECT_EQ(prefetch->tensor, "W");
  EXPECT_EQ(prefetch->at.stage, "acc");
  EXPECT_EQ(prefetch->at.loop, "k");
  EXPECT_EQ(prefetch->distance, 2);
}

TEST(Schedule, CacheWriteAtImpliesStage) {
  std::vector<Schedule> s = parse_schedules("s.txt", kScheduleText);
  auto *plain = std::get_if<CacheWriteStep>(&s.at(0).steps[14].kind);
  auto *qualified = std::get_if<CacheWriteStep>(&s.at(0).steps[15].kind);
  ASSERT_TRUE(plain && qualified);
  EXPECT_EQ(plain->at.stage, "");
  EXPECT_EQ(plain->at.loop, "j1");
  EXPECT_EQ(qualified->at.stage, "acc");
  EXPECT_EQ(qualified->at.loop, "j1");
}

TEST(Schedule, ModuleAttachesSchedules) {
  std::string text = std::string(kDenseRelu) + kScheduleText;
  Module m = parse_module("m.ir", text);
  ASSERT_TRUE(m.find_schedule("dense_relu"));
  EXPECT_EQ(m.find_schedule("dense_relu")->steps.size(), 20u);
  Module again = parse_module("m2.ir", to_string(m));
  EXPECT_EQ(to_string(again), to_string(m));
}

TEST(Schedule, GpuAxisNames) {
  EXPECT_STREQ(to_string(GpuAxis::ThreadZ), "thread.z");
  EXPECT_STREQ(to_string(GpuAxis::BlockY), "block.y");
}

// ---------------------------------------------------------------- robustness

/// Whatever the input, only UserError comes out.
void expect_only_user_errors(const std::string &text) {
  try {
    Module m = parse_module("fuzz.ir", text);
    std::string printed = to_string(m);
    Module again = parse_module("fuzz2.ir", printed);
    EXPECT_EQ(to_string(again), printed) << text;
  } catch (const UserError &) {
  } catch (const std::exception &e) {
    ADD_FAILURE() << "non-user error " << e.what() << " for input:\n" << text;
  }
}

TEST(Robustness, TruncatedFiles) {
  std::string all;
  for (const char *k : kAllExamples) all += k;
  all += kScheduleText;
  for (size_t n = 0; n <= all.size(); n += 3) expect_only_user_errors(all.substr(0, n));
}

TEST(Robustness, RandomBytes) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 200, ' ');
    for (auto &c : s) c = static_cast<char>(rng() % 256);
    expect_only_user_errors(s);
  }
}

TEST(Robustness, RandomTokenEdits) {
  std::mt19937 rng(7);
  const std::string pieces[] = {"[", "]", "(", ")", ",", ":", "=", "-", "*", "/", "%", "sum(k)", "max(", "0",
                                "-1", "1e-5", "i", "j", "X", "\n", "{", "}", "select(", "and", "not", " ", "f32"};
  std::string base = std::string(kConv3x3) + kDenseRelu + kScheduleText;
  for (int i = 0; i < 3000; ++i) {
    std::string s = base;
    int edits = 1 + rng() % 3;
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % s.size();
      if (rng() % 2) s.erase(pos, 1 + rng() % 4);
      else s.insert(pos, pieces[rng() % std::size(pieces)]);
    }
    expect_only_user_errors(s);
  }
}

TEST(Robustness, DeepNestingIsAUserError) {
  std::string deep = "kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = " + std::string(100000, '(') + "A[i]" +
                     std::string(100000, ')') + " }";
  EXPECT_THROW(parse_module("deep.ir", deep), UserError);
  std::string minus = "kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = " + std::string(100000, '-') + "A[i] }";
  EXPECT_THROW(parse_module("deep.ir", minus), UserError);
  std::string chain = "kernel k(A: f32[4]) -> Y: f32[4] { Y[i] = A[i]";
  for (int i = 0; i < 100000; ++i) chain += " + A[i]";
  EXPECT_THROW(parse_module("long.ir", chain + " }"), UserError);
}

TEST(Lexer, TokensCarryLineAndColumn) {
  auto file = std::make_shared<SourceFile>();
  file->path = "t.ir";
  file->text = "a -> 1e-5 # comment\n  <= inf";
  std::vector<Token> t = lex(file);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[1].kind, Tok::Arrow);
  EXPECT_EQ(t[2].kind, Tok::Float);
  EXPECT_EQ(t[2].float_value, 1e-5);
  EXPECT_EQ(t[3].kind, Tok::Newline);
  EXPECT_EQ(t[4].kind, Tok::LE);
  EXPECT_EQ(t[4].loc.line, 2);
  EXPECT_EQ(t[4].loc.col, 3);
  EXPECT_EQ(t[5].kind, Tok::KwInf);
  EXPECT_EQ(t[6].kind, Tok::End);
}

}  // namespace
}  // namespace kcc
