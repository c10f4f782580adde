// Importing small ONNX models (made with onnx.helper by make_models.py): the shapes inferred per
// operator variant, attributes normalized, folding, and the error messages for bad models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "test/frontend/models.h"

namespace kcc::frontend {
namespace {

using test::model_path;
using test::node_named;
using test::output_shape;

Graph load_op(const std::string &name, const ImportOptions &options = {}) {
  return import_onnx(model_path("ops", name), options);
}

using Ints = std::vector<int64_t>;

// ---------------------------------------------------------------------------------------------
// Convolution and pooling.

TEST(OnnxImport, ConvAsymmetricPadsAndStrides) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_pads");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 8, 6, 5}));
  const Node &conv = node_named(g, "conv");
  EXPECT_EQ(conv.op, OpKind::Conv);
  EXPECT_EQ(conv.inputs.size(), 3u);
  EXPECT_EQ(conv.attr_ints("pads"), (Ints{1, 0, 2, 1}));
  EXPECT_EQ(conv.attr_ints("kernel_shape"), (Ints{3, 3}));
  EXPECT_EQ(conv.attr_ints("dilations"), (Ints{1, 1}));
  EXPECT_EQ(conv.attr_int("group"), 1);
}

TEST(OnnxImport, ConvSameUpperPutsTheExtraPadAtTheEnd) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_same_upper");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 4, 5, 5}));
  EXPECT_EQ(node_named(g, "conv").attr_ints("pads"), (Ints{1, 1, 1, 2}));
  EXPECT_EQ(node_named(g, "conv").attrs.count("auto_pad"), 0u);
}

TEST(OnnxImport, ConvSameLowerPutsTheExtraPadAtTheStart) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_same_lower");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 4, 5, 5}));
  EXPECT_EQ(node_named(g, "conv").attr_ints("pads"), (Ints{1, 2, 1, 1}));
}

TEST(OnnxImport, ConvValidHasNoPads) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_valid");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 4, 4, 3}));
  EXPECT_EQ(node_named(g, "conv").attr_ints("pads"), (Ints{0, 0, 0, 0}));
}

TEST(OnnxImport, ConvGroupsAndDilations) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_group_dilation");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 8, 12, 12}));
  EXPECT_EQ(node_named(g, "conv").attr_int("group"), 4);
  EXPECT_EQ(node_named(g, "conv").attr_ints("dilations"), (Ints{2, 2}));
}

TEST(OnnxImport, ConvTransposeWithOutputPadding) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_transpose");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 2, 10, 10}));
  EXPECT_EQ(node_named(g, "deconv").attr_ints("output_padding"), (Ints{1, 1}));
}

TEST(OnnxImport, ConvTransposeOutputShapeBecomesPads) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("conv_transpose_output_shape");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 2, 10, 10}));
  // 2*(5-1) + 3 = 11 wanted 10: one pad, at the start (ONNX's rule without SAME_UPPER).
  EXPECT_EQ(node_named(g, "deconv").attr_ints("pads"), (Ints{1, 1, 0, 0}));
}

TEST(OnnxImport, MaxPoolCeilMode) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("maxpool_ceil");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(node_named(g, "pool").attr_int("ceil_mode"), 1);
}

TEST(OnnxImport, MaxPoolCeilModeDropsAWindowStartingInThePad) {
  KCC_REQUIRE_MODELS("ops");
  // ceil((5 + 2 - 3) / 3) + 1 = 3 windows, but the third would start at 6 >= 5 + 1: as PyTorch.
  EXPECT_EQ(output_shape(load_op("maxpool_ceil_last_window"), 0), (Shape{1, 1, 2, 2}));
}

TEST(OnnxImport, AveragePoolAsymmetricPadsCountIncludePad) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("avgpool_pads");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 2, 6, 6}));
  EXPECT_EQ(node_named(g, "pool").attr_int("count_include_pad"), 1);
  EXPECT_EQ(node_named(g, "pool").attr_ints("strides"), (Ints{1, 1}));
}

TEST(OnnxImport, AveragePoolSameLower) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("avgpool_same_lower");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 2, 4, 4}));
  EXPECT_EQ(node_named(g, "pool").attr_ints("pads"), (Ints{1, 1, 0, 0}));
  EXPECT_EQ(node_named(g, "pool").attr_int("count_include_pad"), 0);
}

TEST(OnnxImport, BatchNormAndGlobalAveragePool) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("global_avgpool_bn");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 4, 1, 1}));
  EXPECT_FLOAT_EQ(node_named(g, "bn").attr_float("epsilon"), 1e-3);
  EXPECT_EQ(g.initializers.size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// Matrix products and element-wise operators.

TEST(OnnxImport, GemmTransposedOperandsAndBiasBroadcast) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("gemm_trans");
  EXPECT_EQ(output_shape(g, 0), (Shape{3, 5}));
  const Node &fc = node_named(g, "fc");
  EXPECT_EQ(fc.attr_int("transA"), 1);
  EXPECT_EQ(fc.attr_int("transB"), 1);
  EXPECT_FLOAT_EQ(fc.attr_float("alpha"), 0.5);
  EXPECT_FLOAT_EQ(fc.attr_float("beta"), 1.0);
}

TEST(OnnxImport, MatMulBroadcastsBatchDimensions) {
  KCC_REQUIRE_MODELS("ops");
  EXPECT_EQ(output_shape(load_op("matmul_batched"), 0), (Shape{2, 5, 4, 6}));
}

TEST(OnnxImport, MatMulVectorTimesBatchedMatrix) {
  KCC_REQUIRE_MODELS("ops");
  EXPECT_EQ(output_shape(load_op("matmul_vector"), 0), (Shape{2, 4}));
}

TEST(OnnxImport, AddBroadcastsAndMulByAScalarConstant) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("add_broadcast");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 3, 4, 5}));
  EXPECT_EQ(g.tensor(node_named(g, "mul").inputs[1]).shape, Shape{});
}

TEST(OnnxImport, UnaryChainKeepsShapeAndFillsDefaults) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("unary_chain");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 3, 2, 2}));
  EXPECT_EQ(g.nodes.size(), 7u);
  EXPECT_FLOAT_EQ(node_named(g, "leaky").attr_float("alpha"), 0.2);
  EXPECT_FLOAT_EQ(node_named(g, "hsig").attr_float("alpha"), 0.2);
  EXPECT_FLOAT_EQ(node_named(g, "hsig").attr_float("beta"), 0.5);
  EXPECT_EQ(node_named(g, "gelu").attr_string("approximate"), "tanh");
}

TEST(OnnxImport, ClipBoundsFromInputsBecomeAttributes) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("clip_inputs");
  const Node &clip = node_named(g, "clip");
  EXPECT_EQ(clip.inputs.size(), 1u);
  EXPECT_EQ(clip.attr_float("min"), 0.0);
  EXPECT_TRUE(std::isinf(clip.attr_float("max")));
}

// ---------------------------------------------------------------------------------------------
// Data movement, axes per opset.

TEST(OnnxImport, ConcatNegativeAxis) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("concat_negative_axis");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 8}));
  EXPECT_EQ(node_named(g, "cat").attr_int("axis"), 1);
}

TEST(OnnxImport, SplitSizesFromTheAttributeBeforeOpset13) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("split_attr_opset11");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 2}));
  EXPECT_EQ(output_shape(g, 1), (Shape{2, 4}));
}

TEST(OnnxImport, SplitSizesFromTheInputFromOpset13) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("split_input_opset13");
  EXPECT_EQ(output_shape(g, 2), (Shape{2, 3}));
  EXPECT_EQ(node_named(g, "split").attr_ints("split"), (Ints{1, 2, 3}));
  EXPECT_EQ(node_named(g, "split").attr_int("axis"), 1);
  EXPECT_EQ(node_named(g, "split").inputs.size(), 1u);
}

TEST(OnnxImport, SplitNumOutputsInOpset18LeavesTheRemainderLast) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("split_num_outputs_opset18");
  EXPECT_EQ(node_named(g, "split").attr_ints("split"), (Ints{4, 4, 2}));
  EXPECT_EQ(output_shape(g, 2), (Shape{2, 2}));
}

TEST(OnnxImport, SqueezeUnsqueezeAxesFromAttributesBeforeOpset13) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("squeeze_unsqueeze_opset11");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 3, 1, 4, 1}));
  EXPECT_EQ(node_named(g, "sq").attr_ints("axes"), (Ints{3}));
  EXPECT_EQ(node_named(g, "unsq").attr_ints("axes"), (Ints{0, 4}));
}

TEST(OnnxImport, SqueezeUnsqueezeAxesFromInputsFromOpset13) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("squeeze_unsqueeze_opset13");
  EXPECT_EQ(output_shape(g, 0), (Shape{1, 3, 1, 4, 1}));
  EXPECT_EQ(node_named(g, "unsq").inputs.size(), 1u);
}

TEST(OnnxImport, SliceNegativeStepsAndExtremeEndsAreClamped) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("slice_negative");
  // Axis 1 (8): from 7 down through 0 by 2 -> 4; axis 0 (6): from 1 to the end by 2 -> 3.
  EXPECT_EQ(output_shape(g, 0), (Shape{3, 4, 5}));
  const Node &s = node_named(g, "slice");
  EXPECT_EQ(s.attr_ints("axes"), (Ints{1, 0}));
  EXPECT_EQ(s.attr_ints("starts"), (Ints{7, 1}));
  EXPECT_EQ(s.attr_ints("ends"), (Ints{-1, 6}));
  EXPECT_EQ(s.attr_ints("steps"), (Ints{-2, 2}));
}

TEST(OnnxImport, ReshapeCopiesZerosAndInfersMinusOne) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("reshape_zero_minus_one");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 6, 2}));
  EXPECT_EQ(node_named(g, "reshape").attr_ints("shape"), (Ints{2, 6, 2}));
}

TEST(OnnxImport, FlattenNegativeAxis) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("flatten_negative_axis");
  EXPECT_EQ(output_shape(g, 0), (Shape{6, 20}));
  EXPECT_EQ(node_named(g, "flat").attr_int("axis"), 2);
}

TEST(OnnxImport, TransposeDefaultPermReverses) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("transpose_default");
  EXPECT_EQ(output_shape(g, 0), (Shape{4, 3, 2}));
  EXPECT_EQ(node_named(g, "tr").attr_ints("perm"), (Ints{2, 1, 0}));
}

TEST(OnnxImport, GatherConstantIndicesNegativeAxis) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("gather_constant_indices");
  EXPECT_EQ(output_shape(g, 0), (Shape{4, 3}));
  EXPECT_EQ(node_named(g, "gather").attr_int("axis"), 1);
}

// ---------------------------------------------------------------------------------------------
// Normalizations and reductions.

TEST(OnnxImport, SoftmaxBeforeOpset13DefaultsToAxis1) {
  KCC_REQUIRE_MODELS("ops");
  EXPECT_EQ(node_named(load_op("softmax_opset11"), "softmax").attr_int("axis"), 1);
}

TEST(OnnxImport, LayerNormalizationOpset17) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("layer_norm_opset17");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 4, 8}));
  EXPECT_EQ(node_named(g, "ln").attr_int("axis"), 2);
  EXPECT_FLOAT_EQ(node_named(g, "ln").attr_float("epsilon"), 1e-5);
}

TEST(OnnxImport, ReduceMeanAxesAttributeWithoutKeepdims) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("reduce_mean_attr_opset13");
  EXPECT_EQ(output_shape(g, 0), (Shape{2}));
  EXPECT_EQ(node_named(g, "mean").attr_ints("axes"), (Ints{1, 2}));
}

TEST(OnnxImport, ReduceSumAxesInputFromOpset13) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("reduce_sum_input_opset13");
  EXPECT_EQ(output_shape(g, 0), (Shape{2, 1, 4}));
  EXPECT_EQ(node_named(g, "sum").attr_ints("axes"), (Ints{1}));
}

TEST(OnnxImport, ReduceMeanAxesInputFromOpset18) {
  KCC_REQUIRE_MODELS("ops");
  EXPECT_EQ(output_shape(load_op("reduce_mean_input_opset18"), 0), (Shape{1, 3, 4}));
}

// ---------------------------------------------------------------------------------------------
// Folding and removal.

TEST(OnnxImport, ShapeComputationFoldsIntoTheReshape) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("fold_shape_chain");
  ASSERT_EQ(g.nodes.size(), 1u) << to_string(g);
  EXPECT_EQ(g.nodes[0].op, OpKind::Reshape);
  EXPECT_EQ(g.nodes[0].attr_ints("shape"), (Ints{2, 12}));
  EXPECT_TRUE(g.initializers.empty());
}

TEST(OnnxImport, ConstantsThroughCastRangeEqualWhereExpandFold) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("fold_constants");
  ASSERT_EQ(g.nodes.size(), 1u) << to_string(g);
  const Node &add = node_named(g, "add");
  const Tensor &c = g.tensor(add.inputs[1]);
  ASSERT_TRUE(c.is_constant());
  EXPECT_EQ(c.shape, (Shape{2, 3}));
  // Where(range == 1, 1, range) = [0, 1, 2] as float, expanded to 2 rows.
  EXPECT_EQ(read_doubles(c), (std::vector<double>{0, 1, 2, 0, 1, 2}));
}

TEST(OnnxImport, IdentityAndDropoutAreRemovedAndTheOutputKeepsItsName) {
  KCC_REQUIRE_MODELS("ops");
  Graph g = load_op("identity_dropout");
  ASSERT_EQ(g.nodes.size(), 1u) << to_string(g);
  EXPECT_EQ(g.nodes[0].op, OpKind::Relu);
  EXPECT_EQ(g.nodes[0].inputs[0], g.inputs[0]);
  EXPECT_EQ(g.nodes[0].outputs[0], g.outputs[0]);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "y");
}

TEST(OnnxImport, DumpShowsOneLinePerNodeWithShapes) {
  KCC_REQUIRE_MODELS("ops");
  EXPECT_EQ(to_string(load_op("gather_constant_indices")),
            "input  x: float 4x5\n"
            "Gather 'gather' {axis=1} (x: float 4x5, i: int64 3 const) -> (y: float 4x3)\n"
            "output y: float 4x3\n");
}

// ---------------------------------------------------------------------------------------------
// Errors. Each bad model's message, exit status and outputs are checked through the kcc binary
// in test/error/onnx_errors.py; here, what only the API shows.

/// The text of the UserError importing `path` throws; fails the test on no error or another kind.
std::string import_error(const std::string &path, const ImportOptions &options = {}) {
  try {
    import_onnx(path, options);
  } catch (const UserError &e) {
    return e.what();
  } catch (const std::exception &e) {
    ADD_FAILURE() << "not a UserError: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error importing " << path;
  return "";
}

TEST(OnnxImportError, PinnedDynamicDimensionImports) {
  KCC_REQUIRE_MODELS("errors");
  ImportOptions pin;
  pin.input_shapes["input"] = {8, 3, 224, 224};
  EXPECT_EQ(output_shape(import_onnx(model_path("errors", "dynamic_batch"), pin), 0), (Shape{8, 3, 224, 224}));
}

std::string file_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(OnnxImportError, MissingFile) {
  EXPECT_EQ(import_error("/nonexistent/model.onnx"), "kcc: error: cannot read '/nonexistent/model.onnx'");
}

TEST(OnnxImportError, InputShapeFlagSyntax) {
  EXPECT_EQ(parse_input_shape("input=1x3x224x224"), (std::pair<std::string, Shape>{"input", {1, 3, 224, 224}}));
  EXPECT_EQ(parse_input_shape("a=b=2"), (std::pair<std::string, Shape>{"a=b", {2}}));
  for (const char *bad : {"input", "=1x2", "input=1x", "input=1xx2", "input=0x3", "input=-1x3", "input=ax3"})
    EXPECT_THROW(parse_input_shape(bad), UserError) << bad;
}

/// Every prefix and every one-byte corruption of a small model imports or fails with a UserError:
/// never a crash or an internal error.
TEST(OnnxImportError, DamagedFilesFailCleanly) {
  KCC_REQUIRE_MODELS("ops");
  for (const char *name : {"fold_constants", "slice_negative", "split_input_opset13", "gather_constant_indices"}) {
    std::string bytes = file_bytes(model_path("ops", name));
    auto try_import = [&](const std::string &b, const std::string &what) {
      try {
        import_onnx_bytes(b, "damaged.onnx", {});
      } catch (const UserError &) {
      } catch (const std::exception &e) {
        ADD_FAILURE() << name << " " << what << ": " << e.what();
      }
    };
    for (size_t n = 0; n < bytes.size(); ++n) try_import(bytes.substr(0, n), "prefix " + std::to_string(n));
    for (size_t i = 0; i < bytes.size(); ++i)
      for (uint8_t x : {0x01, 0xff}) {
        std::string b = bytes;
        b[i] = static_cast<char>(b[i] ^ x);
        try_import(b, "byte " + std::to_string(i) + " ^ " + std::to_string(x));
      }
  }
}

}  // namespace
}  // namespace kcc::frontend
