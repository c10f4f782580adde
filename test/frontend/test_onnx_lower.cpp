// test/frontend/test_onnx_lower.cpp - ONNX models lowered to .ir (frontend/import_model.h) and
// run through the reference interpreter, against PyTorch's outputs that make_models.py stored
// beside each model (lower/NAME.in, NAME.out).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "frontend/import_model.h"
#include "ir/interp.h"
#include "ir/model.h"
#include "ir/parser.h"
#include "test/frontend/models.h"

namespace kcc::frontend::test {
namespace {

std::vector<float> read_floats(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

std::string stem(const std::string &onnx) { return onnx.substr(0, onnx.size() - 5); }

struct Imported {
  LoweredModel lowered;
  Module module;
};

Imported import_lower(const std::string &name, ModelImportOptions o = {}) {
  std::string path = model_path("lower", name);
  LoweredModel m = import_model(path, o);
  Module mod = parse_module(stem(path) + ".ir", m.ir);
  return {m, mod};
}

/// Max |error| over max |reference| of the imported model on the stored inputs.
double relative_error(const std::string &name, const Imported &im) {
  std::string base = stem(model_path("lower", name));
  const ModelDecl &model = im.module.models.at(0);
  // One weights file per process: ctest runs the block sizes of one model at the same time.
  const std::string weights = base + "." + std::to_string(::getpid()) + ".weights";
  std::ofstream(weights, std::ios::binary) << im.lowered.weights;
  std::vector<float> in = read_floats(base + ".in"), ref = read_floats(base + ".out");
  std::vector<std::vector<double>> inputs;
  size_t at = 0;
  for (const ModelTensor &t : model.inputs) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= size_t(d);
    EXPECT_LE(at + n, in.size()) << name << ": the stored inputs are too short";
    inputs.emplace_back(in.begin() + long(at), in.begin() + long(std::min(at + n, in.size())));
    at += n;
  }
  auto outs = interpret_model(im.module, model, inputs, read_model_weights(model, weights));
  std::remove(weights.c_str());
  std::vector<double> got;
  for (auto &o : outs) got.insert(got.end(), o.begin(), o.end());
  EXPECT_FALSE(ref.empty()) << name;
  EXPECT_EQ(got.size(), ref.size()) << name;
  double err = 0, scale = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    err = std::max(err, std::abs(got[i] - double(ref[i])));
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return err / std::max(scale, 1e-30);
}

ModelImportOptions blocked(int64_t block) {
  ModelImportOptions o;
  o.channel_block = block;
  return o;
}

/// A model and the channel block it is imported with (1: NCHW; 4 as NEON, 8 as AVX2, 16 as
/// AVX-512; channels that only half of 8 or 16 divides get half blocks).
class LowerOp : public ::testing::TestWithParam<std::tuple<const char *, int64_t>> {};

TEST_P(LowerOp, MatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  auto [name, block] = GetParam();
  Imported im = import_lower(name, blocked(block));
  EXPECT_LE(relative_error(name, im), 1e-4) << im.lowered.ir;
}

INSTANTIATE_TEST_SUITE_P(
    Ops, LowerOp,
    ::testing::Combine(::testing::Values("conv_group_dilation", "conv_depthwise", "conv_transpose", "maxpool_ceil",
                                         "avgpool_exclude_pad", "global_avgpool", "linear", "gemm_trans",
                                         "matmul_broadcast", "matmul_vector", "elementwise", "activations", "gelu",
                                         "gelu_tanh", "hardswish_gelu", "prelu", "sqrt_pow", "concat_split",
                                         "slice_transpose", "reshape_flatten", "squeeze_unsqueeze", "gather_constant",
                                         "softmax", "layer_norm", "layer_norm_decomposed", "reduce", "batchnorm",
                                         "conv_bn", "conv_chain", "conv_add_input", "outputs_alias", "concat_blocks",
                                         "pad_constant", "shuffle_chunk"),
                       ::testing::Values(int64_t(1), int64_t(4), int64_t(8), int64_t(16))),
    [](const auto &info) {
      return std::string(std::get<0>(info.param)) + "_block" + std::to_string(std::get<1>(info.param));
    });

TEST(LowerModel, ResNet18MatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("resnet18");
  EXPECT_LE(relative_error("resnet18", im), 1e-4);
}

TEST(LowerModel, MobileNetV2MatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("mobilenet_v2");
  EXPECT_LE(relative_error("mobilenet_v2", im), 1e-4);
}

TEST(LowerModel, ResNet18BlockedMatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("resnet18", blocked(16));
  EXPECT_LE(relative_error("resnet18", im), 1e-4);
}

TEST(LowerModel, MobileNetV2BlockedMatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  // At 16, the 24-channel layers are 8c between 16c ones; at 8 every layer is 8c.
  for (int64_t block : {8, 16}) {
    Imported im = import_lower("mobilenet_v2", blocked(block));
    EXPECT_LE(relative_error("mobilenet_v2", im), 1e-4) << "block " << block;
  }
}

/// Calls that take a row-major activation and give a blocked one, and the other way round.
std::pair<int, int> layout_changes(const ModelDecl &m) {
  std::set<std::string> weights;
  for (const ModelWeight &w : m.weights) weights.insert(w.tensor.name);
  int into = 0, out_of = 0;
  for (const ModelCall &c : m.calls) {
    bool reads4 = false, reads5 = false, writes5 = false, writes_other = false;
    for (const std::string &a : c.args)
      if (!weights.count(a)) (m.find_tensor(a)->shape.size() == 5 ? reads5 : reads4) = true;
    for (const std::string &r : c.results) (m.find_tensor(r)->shape.size() == 5 ? writes5 : writes_other) = true;
    into += reads4 && writes5;
    out_of += reads5 && writes_other;
  }
  return {into, out_of};
}

TEST(LowerLayouts, ResNet18ChangesLayoutOnceEachWay) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("resnet18", blocked(16));
  const ModelDecl &m = im.module.models[0];
  // Into the blocked layout: the stem (it reads the 3-channel image row-major); back: one
  // relayout of the pooled features, read by the classifier.
  EXPECT_EQ(layout_changes(m), std::make_pair(1, 1)) << im.lowered.ir;
  EXPECT_EQ(m.calls.at(0).kernel, "conv_64x16x16_k7s2_16c_relu") << im.lowered.ir;
  size_t relayouts = 0;
  for (const ModelCall &c : m.calls) relayouts += c.kernel.rfind("to_", 0) == 0;
  EXPECT_EQ(relayouts, 1u) << im.lowered.ir;
  ASSERT_GE(m.calls.size(), 2u);
  EXPECT_EQ(m.calls[m.calls.size() - 2].kernel, "to_nchw_1x512x1x1") << im.lowered.ir;
  EXPECT_EQ(m.calls.back().kernel.rfind("gemm_", 0), 0u) << im.lowered.ir;
}

TEST(LowerLayouts, WeightsAreStoredBlocked) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("resnet18", blocked(16));
  // The 64 -> 128 3x3 convolution: OIHW 128x64x3x3 as [O/16, I/16, KH, KW, 16 (i), 16 (o)].
  EXPECT_NE(im.lowered.ir.find(": f32[8, 4, 3, 3, 16, 16] = weight at"), std::string::npos) << im.lowered.ir;
  EXPECT_EQ(im.lowered.ir.find(": f32[128, 64, 3, 3] = weight at"), std::string::npos) << im.lowered.ir;
}

TEST(LowerLayouts, BlockOneChangesNothing) {
  KCC_REQUIRE_MODELS("lower");
  EXPECT_EQ(import_lower("conv_chain", blocked(1)).lowered.ir, import_lower("conv_chain").lowered.ir);
  EXPECT_EQ(import_lower("conv_chain").lowered.ir.find("_4c"), std::string::npos);
}

TEST(LowerLayouts, OutputsStayRowMajor) {
  KCC_REQUIRE_MODELS("lower");
  // conv_chain's second output is a blocked conv's result, also read by the global pool: the
  // conv writes the blocked value, one relayout writes the output.
  Imported im = import_lower("conv_chain", blocked(4));
  const ModelDecl &m = im.module.models[0];
  for (const ModelTensor &t : m.outputs) EXPECT_NE(t.shape.size(), 5u) << t.name;
  EXPECT_NE(im.lowered.ir.find("g = to_nchw_1x32x4x4(g_4c)"), std::string::npos) << im.lowered.ir;
}

TEST(LowerLayouts, SameShapedRowMajorOperandIsConvertedOnce) {
  KCC_REQUIRE_MODELS("lower");
  // relu(conv(x)) + x: the input, read row-major by the conv, is converted once for the add.
  Imported im = import_lower("conv_add_input", blocked(16));
  size_t to_blocked = 0;
  for (const ModelCall &c : im.module.models[0].calls) to_blocked += c.kernel.rfind("to_16c_", 0) == 0;
  EXPECT_EQ(to_blocked, 1u) << im.lowered.ir;
}

TEST(LowerModel, TransformerEncoderLayerMatchesPyTorch) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("transformer_encoder_layer");
  EXPECT_LE(relative_error("transformer_encoder_layer", im), 1e-4) << im.lowered.ir;
}

TEST(LowerModel, RepeatedWorkloadsShareOneKernel) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("resnet18");
  // ResNet-18: 20 convolutions, 15 distinct conv kernels: the stem; per stage a 3x3 with ReLU and
  // a 3x3 with residual add and ReLU; in stages 2-4 also a strided 3x3 and a 1x1 downsample.
  size_t conv_calls = 0;
  for (const ModelCall &c : im.module.models[0].calls) conv_calls += c.kernel.rfind("conv_", 0) == 0;
  size_t conv_kernels = 0;
  for (const Kernel &k : im.module.kernels) conv_kernels += k.name.rfind("conv_", 0) == 0;
  EXPECT_EQ(conv_calls, 20u);
  EXPECT_EQ(conv_kernels, 15u);
  EXPECT_NE(im.lowered.ir.find("kernel conv_64x8x8_k3s1_add_relu("), std::string::npos) << im.lowered.ir;
}

TEST(LowerModel, PrintedTextParsesBackToTheSameText) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("mobilenet_v2");
  std::string printed = to_string(im.module);
  EXPECT_EQ(to_string(parse_module("printed.ir", printed)), printed);
  // and the imported text itself reads back to the same module
  EXPECT_EQ(to_string(parse_module("again.ir", im.lowered.ir)), printed);
}

TEST(LowerPasses, FoldedBatchNormMatchesUnfolded) {
  KCC_REQUIRE_MODELS("lower");
  ModelImportOptions unfolded;
  unfolded.fold_batchnorm = false;
  Imported a = import_lower("conv_bn"), b = import_lower("conv_bn", unfolded);
  EXPECT_EQ(a.lowered.ir.find("rsqrt"), std::string::npos) << a.lowered.ir;  // folded: no BN stage
  EXPECT_NE(b.lowered.ir.find("rsqrt"), std::string::npos) << b.lowered.ir;
  EXPECT_LE(relative_error("conv_bn", a), 1e-4);
  EXPECT_LE(relative_error("conv_bn", b), 1e-4);
}

/// How often `what` occurs in `text`.
size_t occurrences(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(LowerPasses, ConcatOfBlockedChannelsStaysBlocked) {
  KCC_REQUIRE_MODELS("lower");
  // At 16: 16 + 32 + 16 channels concatenate whole blocks; 8 + 16 (the 8 channels in half
  // blocks, 8c) concatenate 8c, reading the 16c input as two 8c blocks a block; the only
  // conversion is the classifier's.
  Imported b16 = import_lower("concat_blocks", blocked(16));
  EXPECT_NE(b16.lowered.ir.find("= concat_1x64x6x7_16c_bn_relu("), std::string::npos) << b16.lowered.ir;
  EXPECT_NE(b16.lowered.ir.find("= concat_1x24x6x7_8c("), std::string::npos) << b16.lowered.ir;
  EXPECT_NE(b16.lowered.ir.find("= conv_8x6x7_k1s1_8c("), std::string::npos) << b16.lowered.ir;
  EXPECT_EQ(occurrences(b16.lowered.ir, "= to_"), 1u) << b16.lowered.ir;
  // At 4 both are blocked; the only conversion is the classifier's, after the global pool.
  Imported b4 = import_lower("concat_blocks", blocked(4));
  EXPECT_NE(b4.lowered.ir.find("= concat_1x24x6x7_4c("), std::string::npos) << b4.lowered.ir;
  EXPECT_EQ(occurrences(b4.lowered.ir, "= to_"), 1u) << b4.lowered.ir;
  EXPECT_NE(b4.lowered.ir.find("= to_nchw_1x24x1x1(GlobalAveragePool)"), std::string::npos) << b4.lowered.ir;
}

TEST(LowerPasses, ZeroPadBecomesTheAveragePoolsPadding) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("concat_blocks");
  EXPECT_EQ(im.lowered.ir.find("pad_"), std::string::npos) << im.lowered.ir;
  EXPECT_NE(im.lowered.ir.find("avgpool2d(X, kernel=[3, 3], stride=[1, 1], pad=[1, 1, 1, 1], count_include_pad=1)"), std::string::npos)
      << im.lowered.ir;
}

// nn.Linear exports W [out, in] with transB = 1: the import stores it [in, out], so the
// kernel's vectorized outputs are contiguous in the weights (a matmul, not a dense layer).
TEST(LowerPasses, DenseWeightsAreTransposedAtImport) {
  KCC_REQUIRE_MODELS("lower");
  Imported im = import_lower("linear");
  EXPECT_EQ(im.lowered.ir.find("dense("), std::string::npos) << im.lowered.ir;
  EXPECT_NE(im.lowered.ir.find("matmul("), std::string::npos) << im.lowered.ir;
  EXPECT_NE(im.lowered.ir.find("_t: f32[12, 5]"), std::string::npos) << im.lowered.ir;
  EXPECT_LE(relative_error("linear", im), 1e-5);
}

TEST(LowerPasses, EpiloguesJoinTheConvolutionKernel) {
  KCC_REQUIRE_MODELS("lower");
  Imported fused = import_lower("conv_bn");
  ModelImportOptions o;
  o.fuse_epilogues = false;
  Imported apart = import_lower("conv_bn", o);
  EXPECT_EQ(fused.module.models[0].calls.size(), 1u) << fused.lowered.ir;
  EXPECT_EQ(apart.module.models[0].calls.size(), 2u) << apart.lowered.ir;
  EXPECT_LE(relative_error("conv_bn", apart), 1e-4);
}

}  // namespace
}  // namespace kcc::frontend::test
