// frontend/onnx_ops.h - per-operator import: checks, shape inference, folding (internal to
// frontend/; onnx_import.cpp reads the protobuf and calls import_node once per node, in order).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frontend/graph.h"

namespace kcc::frontend::detail {

/// One ONNX node as read from the file, its inputs and outputs already tensors of the graph under
/// construction. An omitted optional input or output ("" in ONNX) is -1.
struct OnnxNode {
  std::string op_type;
  std::string name;
  /// Position in the ONNX graph (for messages when the node has no name).
  int index = 0;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  /// Per output: whether a later node or the graph's outputs read it.
  std::vector<bool> output_used;
  std::map<std::string, Attribute> attrs;
  /// Attributes holding a tensor (Constant's and ConstantOfShape's `value`).
  std::map<std::string, Tensor> tensor_attrs;
};

/// The state import_node works on.
struct ImportContext {
  std::string path;
  int64_t opset = 0;
  /// The graph being built: import_node sets its output tensors' types, shapes and (when it folds)
  /// data; the nodes are appended by the caller.
  Graph *graph = nullptr;
  /// Outputs of removed nodes (Identity, Dropout, same-type Cast) mapped to the tensor they are.
  std::map<TensorId, TensorId> aliases;

  /// Throws the ModelError "PATH: node 'NAME' (OP): error: MSG".
  [[noreturn]] void fail(const OnnxNode &n, const std::string &msg) const;
};

/// Checks `n` against its operator's rules, infers its outputs and folds it when it can. Returns
/// the node to keep, or nullopt when it was folded (its outputs are constants) or removed (its
/// outputs are in ctx.aliases).
std::optional<Node> import_node(ImportContext &ctx, OnnxNode &n);

}  // namespace kcc::frontend::detail
