// frontend/passes/fold_batchnorm.cpp - see fold_batchnorm.h.
#include "frontend/passes/fold_batchnorm.h"

#include <cmath>
#include <cstring>

#include "frontend/passes/graph_uses.h"

namespace kcc::frontend {

namespace {

Tensor f32_constant(std::string name, Shape shape, const std::vector<double> &v) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  std::vector<uint8_t> bytes(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    float f = static_cast<float>(v[i]);
    std::memcpy(bytes.data() + 4 * i, &f, 4);
  }
  t.data = std::move(bytes);
  return t;
}

bool all_constant(const Graph &g, const std::vector<TensorId> &ts, size_t from) {
  for (size_t i = from; i < ts.size(); ++i)
    if (!g.tensor(ts[i]).is_constant()) return false;
  return true;
}

/// The Conv node that `bn` can fold into, or -1.
int foldable_conv(const Graph &g, const Uses &uses, const Node &bn) {
  TensorId x = bn.inputs[0];
  int p = uses.producer(x);
  if (p < 0 || uses.readers(x) != 1 || uses.is_output(x)) return -1;
  const Node &conv = g.nodes[p];
  if (conv.op != OpKind::Conv || !all_constant(g, conv.inputs, 1) || !all_constant(g, bn.inputs, 1)) return -1;
  return p;
}

}  // namespace

Graph fold_batchnorm(Graph g) {
  Uses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node &bn = g.nodes[i];
    if (bn.op != OpKind::BatchNormalization) continue;
    int p = foldable_conv(g, uses, bn);
    if (p < 0) continue;
    Node &conv = g.nodes[p];
    const Tensor &w = g.tensor(conv.inputs[1]);
    int64_t f = w.shape[0], per = num_elements(w.shape) / f;
    std::vector<double> wv = read_doubles(w), b(f, 0.0);
    if (conv.inputs.size() > 2) b = read_doubles(g.tensor(conv.inputs[2]));
    std::vector<double> scale = read_doubles(g.tensor(bn.inputs[1])), beta = read_doubles(g.tensor(bn.inputs[2])),
                        mean = read_doubles(g.tensor(bn.inputs[3])), var = read_doubles(g.tensor(bn.inputs[4]));
    double eps = bn.attr_float("epsilon");
    for (int64_t c = 0; c < f; ++c) {
      double s = scale[c] / std::sqrt(var[c] + eps);
      for (int64_t k = 0; k < per; ++k) wv[c * per + k] *= s;
      b[c] = (b[c] - mean[c]) * s + beta[c];
    }
    std::string base = w.name;
    Shape ws = w.shape;
    g.tensors.push_back(f32_constant(base + "_bn", ws, wv));
    g.tensors.push_back(f32_constant(base + "_bn_bias", {f}, b));
    TensorId nw = TensorId(g.tensors.size() - 2), nb = TensorId(g.tensors.size() - 1);
    conv.inputs = {conv.inputs[0], nw, nb};
    conv.outputs = bn.outputs;
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  return g;
}

}  // namespace kcc::frontend
