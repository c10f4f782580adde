// Importing whole PyTorch exports (make_models.py: torchvision ResNet-18 and MobileNetV2, a
// torch.nn.TransformerEncoderLayer, a Hugging-Face-style BERT layer with dynamic axes): the
// outputs have PyTorch's shapes and every node has inferred shapes.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test/frontend/models.h"

namespace kcc::frontend {
namespace {

using test::model_path;
using test::output_shape;

/// The output shapes PyTorch computed for `name`.
std::vector<Shape> torch_shapes(const std::string &name) {
  std::string path = model_path("torch", "expected");  // ".../torch/expected.onnx"
  std::ifstream in(path.substr(0, path.size() - 5) + ".json");
  nlohmann::json j = nlohmann::json::parse(in);
  return j.at(name).get<std::vector<Shape>>();
}

/// Every node reads and writes tensors with element types and shapes, and no fold-only operator
/// is left; returns the operators used.
std::set<OpKind> check_graph(const Graph &g) {
  std::set<OpKind> ops;
  for (const Node &n : g.nodes) {
    ops.insert(n.op);
    EXPECT_FALSE(n.outputs.empty()) << n.name;
    for (TensorId id : n.outputs) {
      const Tensor &t = g.tensor(id);
      EXPECT_FALSE(t.is_constant()) << n.name;
      EXPECT_GE(num_elements(t.shape), 1) << n.name << " output " << t.name;
    }
    for (TensorId id : n.inputs) EXPECT_FALSE(g.tensor(id).name.empty()) << n.name;
  }
  return ops;
}

void expect_torch_shapes(const std::string &name, const Graph &g) {
  std::vector<Shape> want = torch_shapes(name);
  ASSERT_EQ(g.outputs.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(output_shape(g, i), want[i]) << name << " output " << i;
}

TEST(OnnxModels, ResNet18) {
  KCC_REQUIRE_MODELS("torch");
  Graph g = import_onnx(model_path("torch", "resnet18"), {});
  expect_torch_shapes("resnet18", g);
  std::set<OpKind> ops = check_graph(g);
  EXPECT_EQ(ops, (std::set<OpKind>{OpKind::Conv, OpKind::Relu, OpKind::MaxPool, OpKind::Add, OpKind::GlobalAveragePool,
                                   OpKind::Flatten, OpKind::Gemm}));
  size_t convs = 0;
  for (const Node &n : g.nodes) convs += n.op == OpKind::Conv;
  EXPECT_EQ(convs, 20u);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "logits");
}

TEST(OnnxModels, MobileNetV2Opset11) {
  KCC_REQUIRE_MODELS("torch");
  Graph g = import_onnx(model_path("torch", "mobilenet_v2"), {});
  expect_torch_shapes("mobilenet_v2", g);
  std::set<OpKind> ops = check_graph(g);
  EXPECT_TRUE(ops.count(OpKind::Clip));  // ReLU6, bounds given as inputs in opset 11
  size_t depthwise = 0;
  for (const Node &n : g.nodes)
    if (n.op == OpKind::Conv && n.attr_int("group") > 1) ++depthwise;
  EXPECT_EQ(depthwise, 17u);
}

TEST(OnnxModels, TransformerEncoderLayerOpset17) {
  KCC_REQUIRE_MODELS("torch");
  Graph g = import_onnx(model_path("torch", "transformer_encoder_layer"), {});
  expect_torch_shapes("transformer_encoder_layer", g);
  std::set<OpKind> ops = check_graph(g);
  EXPECT_TRUE(ops.count(OpKind::LayerNormalization));
  EXPECT_TRUE(ops.count(OpKind::Softmax));
}

TEST(OnnxModels, HuggingFaceStyleLayerWithPinnedDynamicAxes) {
  KCC_REQUIRE_MODELS("torch");
  ImportOptions pin;
  pin.input_shapes["hidden"] = {2, 16, 64};
  Graph g = import_onnx(model_path("torch", "hf_bert_layer"), pin);
  expect_torch_shapes("hf_bert_layer", g);
  std::set<OpKind> ops = check_graph(g);
  EXPECT_TRUE(ops.count(OpKind::Erf));  // GELU
  EXPECT_TRUE(ops.count(OpKind::Softmax));
  // The view/size() computations fold: reshapes keep their target shapes as attributes.
  for (const Node &n : g.nodes) {
    if (n.op != OpKind::Reshape) continue;
    EXPECT_EQ(n.inputs.size(), 1u);
  }
}

TEST(OnnxModels, HuggingFaceStyleLayerNeedsItsDynamicAxesPinned) {
  KCC_REQUIRE_MODELS("torch");
  try {
    import_onnx(model_path("torch", "hf_bert_layer"), {});
    ADD_FAILURE() << "imported a model with dynamic axes";
  } catch (const UserError &e) {
    EXPECT_EQ(std::string(e.what()), model_path("torch", "hf_bert_layer") +
                                         ": error: input 'hidden' has a dynamic dimension 'batch'; pin it with "
                                         "--input-shape hidden=1x1x64");
  }
}

}  // namespace
}  // namespace kcc::frontend
