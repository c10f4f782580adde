// frontend/passes/transpose_dense_weights.cpp - see transpose_dense_weights.h.
#include "frontend/passes/transpose_dense_weights.h"

#include <cstring>

#include "frontend/passes/graph_uses.h"

namespace kcc::frontend {

Graph transpose_dense_weights(Graph g) {
  Uses uses(g);
  for (Node &n : g.nodes) {
    if (n.op != OpKind::Gemm || n.attr_int("transB") == 0 || n.inputs.size() < 2) continue;
    const TensorId b = n.inputs[1];
    const Tensor &w = g.tensor(b);
    if (!w.is_constant() || w.type != ElemType::F32 || w.shape.size() != 2 || uses.readers(b) != 1 ||
        uses.is_output(b))
      continue;
    const int64_t rows = w.shape[0], cols = w.shape[1];  // [out, in]
    Tensor t;
    t.name = w.name + "_t";
    t.type = ElemType::F32;
    t.shape = {cols, rows};
    std::vector<uint8_t> bytes(w.data->size());
    const uint8_t *src = w.data->data();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) std::memcpy(&bytes[4 * (c * rows + r)], src + 4 * (r * cols + c), 4);
    t.data = std::move(bytes);
    g.tensors.push_back(std::move(t));
    n.inputs[1] = TensorId(g.tensors.size() - 1);
    n.attrs["transB"] = Attribute::of_int(0);
  }
  return g;
}

}  // namespace kcc::frontend
