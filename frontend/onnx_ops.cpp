// frontend/onnx_ops.cpp - per-operator import: input counts, attributes (read per opset,
// normalized), static shape inference with ONNX's rules, and folding of constant computations.
//
// One function per operator (onnx_ops_nn.cpp, onnx_ops_data.cpp), dispatched from one table. A
// function checks the ONNX node, sets its outputs' types and shapes, and returns the normalized
// Node, or folds it (its outputs become constants) or removes it (its output aliases an input).
#include "frontend/onnx_import.h"
#include "frontend/onnx_op.h"

namespace kcc::frontend::detail {

void ImportContext::fail(const OnnxNode &n, const std::string &msg) const {
  std::string where = n.name.empty() ? fmt::format("node #{} ({})", n.index, n.op_type)
                                     : fmt::format("node '{}' ({})", n.name, n.op_type);
  throw ModelError(path, where, msg);
}

namespace {

const OpTable &ops() {
  static const OpTable table = [] {
    OpTable t;
    add_nn_ops(t);
    add_data_ops(t);
    return t;
  }();
  return table;
}

}  // namespace

std::optional<Node> import_node(ImportContext &ctx, OnnxNode &n) {
  auto it = ops().find(n.op_type);
  if (it == ops().end()) ctx.fail(n, fmt::format("unsupported operator '{}'", n.op_type));
  Op op(ctx, n);
  return it->second(op);
}

}  // namespace kcc::frontend::detail
